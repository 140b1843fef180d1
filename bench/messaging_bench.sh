#!/usr/bin/env bash
# Messaging benchmark (not a test). With wrk at 64 connections on loopback:
#   POST /v1/messages (durable; 10,000 recipients) beside raw RocksDB sync=true
#                     puts from 64 threads (eventstore_bench --ceiling-only)
#   POST /sim/sms     inbound injection (100,000 senders), same ceiling
# then it fills the log to MESSAGES inbound messages over CONVERSATIONS
# conversations and measures GET /v1/conversations and one conversation's
# messages page beside a bare Beast JSON server, and the server's RSS.
# Every ceiling is measured in the same run. Usage:
#   bench/messaging_bench.sh [build-dir]
#   env: DURATION (s, default 10), MESSAGES (default 1000000), CONVERSATIONS (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-10}
messages=${MESSAGES:-1000000}
conversations=${CONVERSATIONS:-100000}
bench_tmp

read -r bare_rps bare_p99 < <(bare_ceiling "$build" 18902)
puts_ceiling=$("$build/bench/eventstore_bench" --ceiling-only --seconds "$duration" \
  --dir "$tmp/ceiling")
rm -rf "$tmp/ceiling"

key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build" --idle-timeout-ms 3000
bench_fund "$key"
base="http://127.0.0.1:$port"
auth="Authorization: Bearer $key"
number=$(curl -sf -H "$auth" -d '{"areaCode":"415"}' "$base/v1/numbers")
number_id=$(echo "$number" | sed 's/.*"id":"\([^"]*\)".*/\1/')
phone=$(echo "$number" | sed 's/.*"phoneNumber":"\([^"]*\)".*/\1/')

send_sms_lua "$key" "$number_id" >"$tmp/send.lua"
read -r send_rps send_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -s "$tmp/send.lua" "$base" |
  wrk_figures)

# Inbound: thread i of wrk walks senders i, i+2, i+4, ... so that the fill
# below spreads messages evenly over the conversations.
cat >"$tmp/inbound.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter, step = 0, 1
setup = function(thread) thread:set("first", counter); counter = counter + 1 end
init = function() counter = tonumber(first) or 0; step = 2 end
request = function()
  local from = string.format("+1646%07d", 2000000 + counter % $conversations)
  counter = counter + step
  return wrk.format(nil, "/sim/sms", nil,
    '{"from":"' .. from .. '","to":"$phone","body":"Where is my order? It was due yesterday."}')
end
LUA
read -r inbound_rps inbound_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -s "$tmp/inbound.lua" \
  "$base" | wrk_figures)

# Fill up to $messages messages in all (the runs above count too).
head_of() { curl -sf "$base/healthz" | sed 's/.*"logHead":\([0-9]*\).*/\1/'; }
msg_total() { curl -sf -H "$auth" "$base/v1/conversations?limit=1" >/dev/null; \
  echo $(( $(head_of) )); }
fill_started=$(date +%s)
sent_so_far=$(awk "BEGIN { printf \"%d\", ($send_rps + $inbound_rps) * $duration }")
remaining=$((messages - sent_so_far))
while [ "$remaining" -gt 0 ]; do
  secs=$(( remaining / (inbound_rps > 0 ? inbound_rps : 1000) + 1 ))
  [ "$secs" -gt 60 ] && secs=60
  done_now=$(wrk -t2 -c64 -d"${secs}s" -s "$tmp/inbound.lua" "$base" |
    awk '/requests in/ { print $1 }')
  remaining=$((remaining - done_now))
done
fill_secs=$(( $(date +%s) - fill_started ))
total_conversations=$(curl -sf -H "$auth" "$base/v1/conversations?limit=1" |
  sed 's/.*"total":\([0-9]*\).*/\1/')
conversation=$(curl -sf -H "$auth" "$base/v1/conversations?limit=1" |
  sed 's/.*"data":\[{"id":"\([^"]*\)".*/\1/')

read -r list_rps list_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -H "$auth" \
  "$base/v1/conversations?limit=20" | wrk_figures)
read -r page_rps page_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -H "$auth" \
  "$base/v1/conversations/$conversation/messages?limit=50" | wrk_figures)
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$server/status")
log_head=$(head_of)
data_mb=$(du -sm "$tmp/data" | cut -f1)

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "ceiling  bare Beast JSON server        : $bare_rps req/s  p99 $bare_p99 ms"
echo "ceiling  raw RocksDB sync puts, 64 thr : $puts_ceiling puts/s"
echo "POST /v1/messages (durable)            : $send_rps req/s  p99 $send_p99 ms" \
     "= $(ratio "$send_rps" "$puts_ceiling")x raw-puts ceiling"
echo "POST /sim/sms inbound injection        : $inbound_rps req/s  p99 $inbound_p99 ms" \
     "= $(ratio "$inbound_rps" "$puts_ceiling")x raw-puts ceiling"
echo "fill: ~$messages messages over $total_conversations conversations in ${fill_secs}s;" \
     "log head $log_head events; data folder $data_mb MiB"
echo "GET /v1/conversations?limit=20         : $list_rps req/s  p99 $list_p99 ms" \
     "= $(ratio "$list_rps" "$bare_rps")x bare ceiling"
echo "GET /v1/conversations/{id}/messages    : $page_rps req/s  p99 $page_p99 ms" \
     "= $(ratio "$page_rps" "$bare_rps")x bare ceiling"
echo "server RSS                             : $((rss_kb / 1024)) MiB"
