#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into ./build-fuzz and
# runs each from its seed corpus for AP_FUZZ_SECONDS (default 30) seconds.
# Exits non-zero when a target crashes; the crashing input is left in
# build-fuzz/crashes/<target>/. New inputs that reach new code go to
# build-fuzz/corpus/<target>/ (the seed corpus in the repo is not touched).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${AP_FUZZ_SECONDS:-30}"
targets=(fuzz_e164 fuzz_sms fuzz_record fuzz_bodies fuzz_request fuzz_mcp fuzz_voice)
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -g1" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DAP_FUZZ=ON -DAP_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all
status=0
for target in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/crashes/$target"
  echo "== $target: ${seconds}s"
  if ! "build-fuzz/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crashes/$target/" \
      "build-fuzz/corpus/$target" "tests/fuzz/corpus/$target" 2>"build-fuzz/$target.log"; then
    echo "$target crashed:"; tail -40 "build-fuzz/$target.log"; status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/$target.log" || true
done
exit "$status"
