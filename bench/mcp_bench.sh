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

# $1: the tool call's JSON-RPC body. The requests of a body without a
# varying recipient (TO) are formatted once per session at start, and the
# per-session headers always are, so that wrk's own CPU per request — on a
# 2-core machine it runs beside the server — is close to that of the REST
# side it is compared with (a fixed request, or send_sms_lua's one format).
mcp_lua() {
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer $key"
local sessions = { ${session_list%,} }
local template = '$1'
local varies = string.find(template, "TO", 1, true) ~= nil
local headers, fixed = {}, {}
for i, session in ipairs(sessions) do
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Mcp-Session-Id"] = session
  headers[i] = h
  if not varies then fixed[i] = wrk.format(nil, "/mcp", h, template) end
end
local n = 0
request = function()
  n = n % #sessions + 1
  if not varies then return fixed[n] end
  local to = string.format("+1212555%04d", math.random(0, 9999))
  return wrk.format(nil, "/mcp", headers[n], (string.gsub(template, "TO", to)))
end
LUA
}
mcp_lua '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_agents","arguments":{"limit":20}}}' >"$tmp/list.lua"
mcp_lua '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_message","arguments":{"number_id":"'"$number_id"'","to_number":"TO","body":"Your order has shipped."}}}' >"$tmp/send.lua"
send_sms_lua "$key" "$number_id" >"$tmp/rest_send.lua"

# The server's CPU time so far, in clock ticks (user + system).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }
# Prints "<requests/s> <p99 ms> <server CPU µs per request>". The CPU cost is
# the steadier figure on a shared machine: a neighbour that slows both sides
# moves throughput far more than it moves the work each request takes.
run() {
  local before after figures
  before=$(cpu_ticks)
  figures=$(wrk -t2 -c64 -d"${duration}s" --latency "$@" | wrk_figures)
  after=$(cpu_ticks)
  echo "$figures $(awk -v f="$figures" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" \
    -v d="$duration" 'BEGIN { split(f, x, " "); printf "%.1f", t * 1e6 / hz / (x[1] * d) }')"
}
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
  local ratios="" cost_ratios=""
  for round in $(seq 1 "$rounds"); do
    read -r rest rest_p99 rest_cpu < <(run "${rest_args[@]}")
    read -r mcp mcp_p99 mcp_cpu < <(run "${mcp_args[@]}")
    echo "  $label round $round: REST $rest req/s (p99 $rest_p99 ms, $rest_cpu us CPU/req)," \
         "MCP $mcp req/s (p99 $mcp_p99 ms, $mcp_cpu us CPU/req) = $(ratio "$mcp" "$rest")x"
    ratios+="$(ratio "$mcp" "$rest") "
    cost_ratios+="$(ratio "$rest_cpu" "$mcp_cpu") "
  done
  echo "$label: MCP / REST = $(echo "$ratios" | median)x throughput," \
       "$(echo "$cost_ratios" | median)x by server CPU per request (medians of $rounds rounds)"
}

pair "list_agents (GET /v1/agents?limit=20)" -H "$auth" "$base/v1/agents?limit=20" \
  -- -s "$tmp/list.lua" "$base"
pair "send_message (POST /v1/messages, durable)" -s "$tmp/rest_send.lua" "$base" \
  -- -s "$tmp/send.lua" "$base"
