#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server:
# installs missing packages, builds, and starts `agentphone serve` on its
# embedded defaults (data in ./data, port 8080). Extra arguments go to serve,
# e.g. scripts/serve.sh --port 9000 --data-dir /var/lib/agentphone
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/agentphone serve "$@"
