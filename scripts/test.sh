#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a full test run: installs
# missing packages, builds, and runs every test (ctest). Exits non-zero on any
# failure. AP_CRASH_ROUNDS=20 makes the kill -9 test run 20 rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900
