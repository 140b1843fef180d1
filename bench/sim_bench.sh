#!/usr/bin/env bash
# Simulator benchmark (not a test), single-threaded, on the in-memory store:
#   SCENARIO=flood (default): the SMS + webhook flood of sim/scenarios/flood.json
#     (about a million events, faults on, no crashes), compared with the goal
#     of 1,000,000 events in 30 s;
#   SCENARIO=call-flood: the voice flood of sim/scenarios/call-flood.json
#     (about 10,000 calls, a few turns each), compared with the goal of
#     100,000 calls (about a million events) in 30 s, by rate.
# Prints events, wall time, events/s (and calls/s), peak RSS and the ratios.
#   bench/sim_bench.sh [build-dir]      env: SCENARIO, SEED (default 1), STORE (memory|rocksdb)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seed=${SEED:-1}
store=${STORE:-memory}
scenario=${SCENARIO:-flood}
out=$(mktemp)
trap 'rm -f "$out" "$out.time"' EXIT
/usr/bin/time -f '%M' -o "$out.time" "$build/agentphone" sim run \
  --scenario "sim/scenarios/$scenario.json" --seed "$seed" --store "$store" --no-progress \
  --no-rebuild-check >"$out"
grep -E '^(head|time|result):' "$out"
events=$(sed -n 's/^head: position \([0-9]*\),.*/\1/p' "$out")
wall=$(sed -n 's/^time: .* in \([0-9.]*\) s wall.*/\1/p' "$out")
calls=$(awk '/^  call (in|out) ok/ {n += $4} END {print n + 0}' "$out")
rss_kib=$(cat "$out.time")
awk -v e="$events" -v w="$wall" -v r="$rss_kib" -v c="$calls" -v s="$scenario" 'BEGIN {
  rate = e / w; goal = 1000000 / 30;
  printf "sim %s: %d events in %.1f s wall = %.0f events/s = %.2fx the goal (33,333 events/s); peak RSS %.0f MiB\n",
         s, e, w, rate, rate / goal, r / 1024
  if (c > 0) printf "sim %s: %d calls = %.0f calls/s = %.2fx the goal (100,000 calls in 30 s = 3,333 calls/s)\n",
         s, c, c / w, (c / w) / (100000 / 30) }'
