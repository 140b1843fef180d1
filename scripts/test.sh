#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a full test run: installs
# missing packages, builds, and runs every test (ctest), then builds the C++
# suites again with AddressSanitizer + UndefinedBehaviorSanitizer into
# ./build-sanitize and runs them there. Exits non-zero on any failure.
# Last, each libFuzzer target runs for AP_FUZZ_SECONDS (default 20) seconds.
# AP_CRASH_ROUNDS=20 makes the kill -9 test run 20 rounds; AP_SANITIZE=0
# skips the sanitizer and fuzzing passes (for a quicker local run; CI always
# runs them). Tests run two at a time (one per core); each uses its own
# ports and folders.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest -j"$(nproc)" --output-on-failure --timeout 900)

if [[ "${AP_SANITIZE:-1}" != "0" ]]; then
  # -O1 keeps the sanitized build and run within CI's budget on two cores;
  # the official SDK suite drives the same server code and is left to the
  # first pass.
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -g1" \
    -DAP_SANITIZE=ON -DAP_BUILD_BENCH=OFF >/dev/null
  cmake --build build-sanitize -j"$(nproc)"
  (cd build-sanitize &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest -j"$(nproc)" --output-on-failure --timeout 900 -E '^(sdk_compat|mcp_compat)$')
  AP_FUZZ_SECONDS="${AP_FUZZ_SECONDS:-20}" scripts/fuzz.sh
fi
