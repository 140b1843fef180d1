#!/usr/bin/env bash
# Webhook benchmark (not a test): a fresh sandbox server with one number and a
# project webhook pointing at build/bench/webhook_bench's receiver; inbound SMS
# at 1,000/s for DURATION seconds (goal: p99 <= 20 ms end to end), then at
# higher offered rates to find the highest sustained delivery rate.
#   bench/webhook_bench.sh [build-dir]   env: DURATION (s, default 30), RATES (default 2000,3000,4000)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
duration=${DURATION:-30}
rates=${RATES-2000,3000,4000}
bench_tmp

receiver_port=18977
key=$(bench_account_key "$build" "$tmp/data")
bench_serve "$build"
bench_fund "$key"
auth="Authorization: Bearer $key"
phone=$(curl -sf -H "$auth" -d '{"areaCode":"415"}' "http://127.0.0.1:$port/v1/numbers" |
        sed 's/.*"phoneNumber":"\([^"]*\)".*/\1/')
curl -sf -H "$auth" -d "{\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"contextLimit\":10}" \
  "http://127.0.0.1:$port/v1/webhooks" >/dev/null

"$build/bench/webhook_bench" --server-port "$port" --to "$phone" --receiver-port "$receiver_port" \
  --rates "1000${rates:+,$rates}" --seconds "$duration"
failed=$(curl -sf -H "$auth" "http://127.0.0.1:$port/v1/webhooks/deliveries/all-time")
echo "deliveries (all-time): $failed"
echo "server RSS: $(( $(awk '/VmRSS/ { print $2 }' "/proc/$server/status") / 1024 )) MiB"
