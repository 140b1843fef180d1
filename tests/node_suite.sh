#!/usr/bin/env bash
# Runs one of the Node test suites (node:test) against the given agentphone
# binary, installing its pinned npm package first (from the lock file) when
# node_modules does not hold that version.
# Usage: node_suite.sh <suite-dir> <npm-package> <version> <test-file> <path-to-agentphone>
set -euo pipefail

if [[ $# -ne 5 ]]; then
  echo "usage: $0 <suite-dir> <npm-package> <version> <test-file> <path-to-agentphone>" >&2
  exit 2
fi
dir=$1 package=$2 want=$3 test_file=$4 bin=$5
if [[ $bin != /* ]]; then
  bin="$(pwd)/$bin"
fi
if [[ ! -x $bin ]]; then
  echo "$0: not an executable: $bin" >&2
  exit 2
fi

cd "$dir"
have=""
if [[ -f node_modules/$package/package.json ]]; then
  have=$(node -p "require('./node_modules/$package/package.json').version" 2>/dev/null || true)
fi
if [[ $have != "$want" ]]; then
  echo "installing $package@$want (found: ${have:-none})"
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

AGENTPHONE_BIN=$bin exec node --test "$test_file"
