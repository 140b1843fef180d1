#!/usr/bin/env bash
# Official-SDK compatibility test: runs sdk_compat.test.mjs (node:test) against
# the given agentphone binary, installing the pinned SDK first when needed.
# Usage: run.sh <path-to-agentphone-binary>
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <path-to-agentphone-binary>" >&2
  exit 2
fi
bin=$1
if [[ $bin != /* ]]; then
  bin="$(pwd)/$bin"
fi
if [[ ! -x $bin ]]; then
  echo "$0: not an executable: $bin" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")"

want=1.0.17
have=""
if [[ -f node_modules/agentphone/package.json ]]; then
  have=$(node -p 'require("./node_modules/agentphone/package.json").version' 2>/dev/null || true)
fi
if [[ $have != "$want" ]]; then
  echo "installing agentphone@$want (found: ${have:-none})"
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund
  else
    npm install --no-audit --no-fund
  fi
fi

AGENTPHONE_BIN=$bin exec node --test sdk_compat.test.mjs
