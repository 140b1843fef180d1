#!/usr/bin/env bash
# Ledger cost benchmark (not a test): what billing adds to POST /v1/messages.
# Every message is charged, so there is no unbilled run to set beside it in
# the same process; instead the server is profiled (perf, DWARF call graphs)
# while wrk sends at 64 connections, and the script prints the share of the
# server's CPU spent in the ledger's code (pricing and posting the entry,
# the reservation, the auto-recharge check) beside the share of the whole
# projection, plus the request rate. Usage:
#   bench/ledger_cost.sh [build-dir]      env: DURATION (s, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-5}
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 1; }
bench_tmp

key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build" --idle-timeout-ms 3000
bench_fund "$key"
base="http://127.0.0.1:$port"
number=$(curl -sf -H "Authorization: Bearer $key" -d '{"areaCode":"415"}' "$base/v1/numbers")
number_id=$(echo "$number" | sed 's/.*"id":"\([^"]*\)".*/\1/')
send_sms_lua "$key" "$number_id" >"$tmp/send.lua"
perf record -F 499 --call-graph dwarf,16384 -o "$tmp/perf.data" -p "$server" \
  -- sleep "$((duration - 1))" 2>/dev/null >/dev/null &
perf_pid=$!
read -r send_rps send_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -s "$tmp/send.lua" "$base" |
  wrk_figures)
wait "$perf_pid" || true
share() {
  perf report -i "$tmp/perf.data" -g none --children --sort symbol 2>/dev/null |
    awk -v pat="$1" '$0 ~ pat { gsub(/%/, "", $1); sum += $1 } END { printf "%.1f", sum }'
}
ledger=$(share 'CoreView::apply_ledger[[:space:]]|EntityHost::reserve_funds[[:space:]]|BillingDispatch::on_event[[:space:]]')
projection=$(share 'CoreView::apply[[:space:]]')
echo "POST /v1/messages (durable, profiled)  : $send_rps req/s  p99 $send_p99 ms"
echo "server CPU in the ledger               : ${ledger}%  (entry, reservation, auto-recharge check)"
echo "server CPU in the whole projection     : ${projection}%"
