#!/usr/bin/env bash
# MCP benchmark (not a test). With wrk at 64 connections on loopback, each
# request naming one of 64 MCP sessions in turn:
#   tools/call list_agents   beside  GET /v1/agents?limit=20
#   tools/call send_message  beside  POST /v1/messages (durable)
# both measured in the same run on the same server, alternating REST and MCP
# for ROUNDS rounds so that the machine's drift falls on both; the median
# round's ratio is the figure. The goal is MCP >= 0.8x REST: a tool runs the
# REST route in process, so the difference is the JSON-RPC envelope and the
# tool result around the route's JSON. Usage:
#   bench/mcp_bench.sh [build-dir]      env: DURATION (s per run, default 5), ROUNDS (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-5}
rounds=${ROUNDS:-3}
bench_tmp

key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build" --idle-timeout-ms 3000
bench_fund "$key"
base="http://127.0.0.1:$port"
auth="Authorization: Bearer $key"
for i in $(seq 1 5); do
  curl -sf -H "$auth" -d "{\"name\":\"bench $i\"}" "$base/v1/agents" >/dev/null
done
number_id=$(curl -sf -H "$auth" -d '{"areaCode":"415"}' "$base/v1/numbers" |
  sed 's/.*"id":"\([^"]*\)".*/\1/')

# 64 sessions, opened the way a client opens them.
sessions=()
for _ in $(seq 1 64); do
  sessions+=("$(curl -sf -D - -o /dev/null -H "$auth" -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
    "$base/mcp" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')")
done
session_list=$(printf '"%s",' "${sessions[@]}")

# $1: the tool call's JSON-RPC body.
mcp_lua() {
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer $key"
local sessions = { ${session_list%,} }
local n = 0
request = function()
  n = n + 1
  local to = string.format("+1212555%04d", math.random(0, 9999))
  local body = string.gsub('$1', "TO", to)
  -- wrk.format takes the headers it is given instead of wrk.headers.
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Mcp-Session-Id"] = sessions[n % #sessions + 1]
  return wrk.format(nil, "/mcp", headers, body)
end
LUA
}
mcp_lua '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_agents","arguments":{"limit":20}}}' >"$tmp/list.lua"
mcp_lua '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{"number_id":"'"$number_id"'","to_number":"TO","body":"Your order has shipped."}}}' >"$tmp/send.lua"
send_sms_lua "$key" "$number_id" >"$tmp/rest_send.lua"

run() { wrk -t2 -c64 -d"${duration}s" --latency "$@" | wrk_figures; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# $1: label; then the REST wrk arguments, "--", the MCP wrk arguments.
pair() {
  local label=$1
  shift
  local rest_args=() mcp_args=() into=rest
  for a in "$@"; do
    if [ "$a" = "--" ]; then into=mcp; continue; fi
    if [ "$into" = rest ]; then rest_args+=("$a"); else mcp_args+=("$a"); fi
  done
  local ratios=""
  for round in $(seq 1 "$rounds"); do
    read -r rest rest_p99 < <(run "${rest_args[@]}")
    read -r mcp mcp_p99 < <(run "${mcp_args[@]}")
    echo "  $label round $round: REST $rest req/s (p99 $rest_p99 ms), MCP $mcp req/s" \
         "(p99 $mcp_p99 ms) = $(ratio "$mcp" "$rest")x"
    ratios+="$(ratio "$mcp" "$rest") "
  done
  echo "$label: MCP / REST = $(echo "$ratios" | median)x (median of $rounds rounds)"
}

pair "list_agents (GET /v1/agents?limit=20)" -H "$auth" "$base/v1/agents?limit=20" \
  -- -s "$tmp/list.lua" "$base"
pair "send_message (POST /v1/messages, durable)" -s "$tmp/rest_send.lua" "$base" \
  -- -s "$tmp/send.lua" "$base"
