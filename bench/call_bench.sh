#!/usr/bin/env bash
# Voice-turn benchmark (not a test): a fresh sandbox server with one number
# whose webhook-mode agent's webhook points at build/bench/call_bench's
# receiver; CALLS live sandbox calls (default 1000) each speaking a line every
# 2 s for DURATION seconds (goal: the platform's own share of a turn, p99 <=
# 2 ms), then back-to-back whole calls for CHURN seconds (calls/s), with the
# server's RSS at both points.
#   bench/call_bench.sh [build-dir]   env: CALLS, DURATION (default 20), CHURN (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
bench_tmp

receiver_port=18978
key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build"
bench_fund "$key"
auth="Authorization: Bearer $key"
agent=$(curl -sf -H "$auth" -d '{"name":"bench","voiceMode":"webhook"}' \
  "http://127.0.0.1:$port/v1/agents" | sed 's/.*"id":"\([^"]*\)".*/\1/')
phone=$(curl -sf -H "$auth" -d "{\"areaCode\":\"415\",\"agentId\":\"$agent\"}" \
  "http://127.0.0.1:$port/v1/numbers" | sed 's/.*"phoneNumber":"\([^"]*\)".*/\1/')
curl -sf -H "$auth" -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"timeout\":10}" \
  "http://127.0.0.1:$port/v1/agents/$agent/webhook" >/dev/null

"$build/bench/call_bench" --server-port "$port" --to "$phone" --receiver-port "$receiver_port" \
  --server-pid "$server" --calls "${CALLS:-1000}" --seconds "${DURATION:-20}" \
  --churn-seconds "${CHURN:-10}"
