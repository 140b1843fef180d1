#!/usr/bin/env bash
# MCP benchmark (not a test). With wrk at 64 connections on loopback, each
# request naming one of 64 MCP sessions in turn:
#   tools/call list_agents   beside  GET /v1/agents?limit=20
#   tools/call send_message  beside  POST /v1/messages (durable)
# both measured in the same run on the same server. The goal is MCP >= 0.8x
# REST: a tool runs the REST route in process, so the difference is the
# JSON-RPC envelope and the tool result around the route's JSON. Usage:
#   bench/mcp_bench.sh [build-dir]      env: DURATION (s, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-10}
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
read -r rest_list rest_list_p99 < <(run -H "$auth" "$base/v1/agents?limit=20")
read -r mcp_list mcp_list_p99 < <(run -s "$tmp/list.lua" "$base")
read -r rest_send rest_send_p99 < <(run -s "$tmp/rest_send.lua" "$base")
read -r mcp_send mcp_send_p99 < <(run -s "$tmp/send.lua" "$base")

ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "GET /v1/agents?limit=20           : $rest_list req/s  p99 $rest_list_p99 ms"
echo "MCP tools/call list_agents        : $mcp_list req/s  p99 $mcp_list_p99 ms" \
     "= $(ratio "$mcp_list" "$rest_list")x REST"
echo "POST /v1/messages (durable)       : $rest_send req/s  p99 $rest_send_p99 ms"
echo "MCP tools/call send_message       : $mcp_send req/s  p99 $mcp_send_p99 ms" \
     "= $(ratio "$mcp_send" "$rest_send")x REST"
