#!/usr/bin/env bash
# Simulator benchmark (not a test): the SMS + webhook flood of
# sim/scenarios/flood.json (about a million events, faults on, no crashes) on
# the in-memory store, single-threaded. Prints events, wall time, events/s,
# peak RSS, and the ratio to the goal of 1,000,000 events in 30 s.
#   bench/sim_bench.sh [build-dir]      env: SEED (default 1), STORE (memory|rocksdb)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seed=${SEED:-1}
store=${STORE:-memory}
out=$(mktemp)
trap 'rm -f "$out" "$out.time"' EXIT
/usr/bin/time -f '%M' -o "$out.time" "$build/agentphone" sim run --scenario sim/scenarios/flood.json \
  --seed "$seed" --store "$store" --no-progress --no-rebuild-check >"$out"
grep -E '^(head|time|result):' "$out"
events=$(sed -n 's/^head: position \([0-9]*\),.*/\1/p' "$out")
wall=$(sed -n 's/^time: .* in \([0-9.]*\) s wall.*/\1/p' "$out")
rss_kib=$(cat "$out.time")
awk -v e="$events" -v w="$wall" -v r="$rss_kib" 'BEGIN {
  rate = e / w; goal = 1000000 / 30;
  printf "sim flood: %d events in %.1f s wall = %.0f events/s = %.2fx the goal (33,333 events/s); peak RSS %.0f MiB\n",
         e, w, rate, rate / goal, r / 1024 }'
