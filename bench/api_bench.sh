#!/usr/bin/env bash
# REST benchmark (not a test). With wrk at 64 connections on loopback:
#   GET  /v1/agents/{id}  beside a bare Beast JSON server (bench/bare_server)
#   POST /v1/agents       (durable: fsync before 200) beside raw RocksDB
#                         sync=true puts from 64 threads (eventstore_bench)
# then the server's RSS after creating AGENTS agents and letting them passivate.
# All ceilings are measured in the same run. Usage:
#   bench/api_bench.sh [build-dir]      env: DURATION (s, default 10), AGENTS (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-10}
agents=${AGENTS:-100000}
bench_tmp

# Ceiling 1: a bare Beast server with the same number of io threads.
read -r bare_rps bare_p99 < <(bare_ceiling "$build" 18901)

# The server, on a fresh data folder.
key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build" --idle-timeout-ms 3000
bench_fund "$key"
base="http://127.0.0.1:$port"
auth="Authorization: Bearer $key"
agent=$(curl -sf -H "$auth" -d '{"name":"bench"}' "$base/v1/agents" |
        sed 's/.*"id":"\([^"]*\)".*/\1/')

read -r get_rps get_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -H "$auth" \
  "$base/v1/agents/$agent" | wrk_figures)

cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"name":"bench agent","voiceMode":"webhook"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA
read -r post_rps post_p99 < <(wrk -t2 -c64 -d"${duration}s" --latency -s "$tmp/post.lua" \
  "$base/v1/agents" | wrk_figures)

# Ceiling 2: raw RocksDB sync puts from 64 threads, on the same disk.
puts_ceiling=$("$build/bench/eventstore_bench" --ceiling-only --seconds "$duration" \
  --dir "$tmp/ceiling")

# Memory: top up to $agents agents, wait until every actor has passivated.
total() {
  curl -sf -H "$auth" "$base/v1/agents?limit=1" | sed 's/.*"total":\([0-9]*\).*/\1/'
}
while [ "$(total)" -lt "$agents" ]; do
  wrk -t2 -c64 -d2s -s "$tmp/post.lua" "$base/v1/agents" >/dev/null
done
for _ in $(seq 1 120); do
  live=$(curl -sf "$base/healthz" | sed 's/.*"liveActors":\([0-9]*\).*/\1/')
  [ "$live" = 0 ] && break
  sleep 0.5
done
rss_kb=$(awk '/VmRSS/ { print $2 }' "/proc/$server/status")

echo "ceiling  bare Beast JSON server       : $bare_rps req/s  p99 $bare_p99 ms"
echo "GET  /v1/agents/{id}                  : $get_rps req/s  p99 $get_p99 ms" \
     "= $(awk "BEGIN { printf \"%.2f\", $get_rps / $bare_rps }")x bare ceiling (goal >= 0.6, p99 <= 5 ms)"
echo "ceiling  raw RocksDB sync puts, 64 thr: $puts_ceiling puts/s"
echo "POST /v1/agents (durable)             : $post_rps req/s  p99 $post_p99 ms" \
     "= $(awk "BEGIN { printf \"%.2f\", $post_rps / $puts_ceiling }")x raw-puts ceiling (goal >= 1.0)"
echo "RSS after $(total) agents, $live live actors: $((rss_kb / 1024)) MiB"
