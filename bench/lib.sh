# Shared by the bench/*.sh scripts (sourced, not run).

# Prints "<requests/s> <p99 ms>" from wrk --latency output on stdin, and a
# warning on stderr when some answers were not 2xx (a benchmark of refusals
# measures the wrong thing: an unfunded account answers 402).
wrk_figures() {
  awk '
    /Non-2xx or 3xx responses:/ { printf "warning: %s answers were not 2xx\n", $5 > "/dev/stderr" }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" {
      v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v)
      ms = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v
    }
    END { printf "%.0f %.2f\n", rps, ms }'
}

# Waits (at most 5 s) until the server has written its port to file $1.
wait_for_port_file() {
  for _ in $(seq 1 250); do
    [ -s "$1" ] && return 0
    sleep 0.02
  done
  echo "server did not start" >&2
  exit 1
}

# Creates an account in data folder $2 with binary dir $1 and prints its API key.
bench_account_key() {
  "$1/agentphone" admin --data-dir "$2" create-account --email bench@example.com |
    sed -n 's/^api_key=//p'
}

# Makes the scratch folder $tmp; at exit, kills every process listed in $pids
# and removes $tmp.
bench_tmp() {
  tmp=$(mktemp -d)
  pids=()
  trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
}

# Prints "<requests/s> <p99 ms>" of the bare Beast server (binary dir $1) on
# port $2 under wrk at 64 connections for $duration seconds: the HTTP ceiling.
bare_ceiling() {
  "$1/bench/bare_server" "$2" 2 &
  local pid=$!
  sleep 0.3
  wrk -t2 -c64 -d"${duration}s" --latency "http://127.0.0.1:$2/" | wrk_figures
  kill "$pid"
}

# Credits the account of API key $1 with $30,000 through the sandbox's
# simulated processor (three top-ups of the $10,000 maximum), so that what a
# benchmark sends is paid for rather than refused with 402.
bench_fund() {
  for _ in 1 2 3; do
    curl -sf -H "Authorization: Bearer $1" -H "Content-Type: application/json" \
      -d '{"amountCents":1000000}' "http://127.0.0.1:$port/v1/billing/top-up" >/dev/null
  done
}

# Prints a wrk script that sends POST /v1/messages with API key $1 from
# number id $2 to one of 10,000 recipients at random.
send_sms_lua() {
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
request = function()
  local to = string.format("+1212555%04d", math.random(0, 9999))
  return wrk.format(nil, "/v1/messages", nil,
    '{"number_id":"$2","to_number":"' .. to .. '","body":"Your order has shipped."}')
end
LUA
}

# Starts `agentphone serve` (binary dir $1) on $tmp/data with any further
# arguments, without the per-key rate limit (a benchmark is one client
# hammering one key on purpose); sets $server and $port, and lists the pid
# in $pids.
bench_serve() {
  local build=$1
  shift
  "$build/agentphone" serve --data-dir "$tmp/data" --port 0 --port-file "$tmp/port" \
    --rate-limit-per-key 0 "$@" 2>"$tmp/server.log" &
  server=$!
  pids+=("$server")
  wait_for_port_file "$tmp/port"
  port=$(cat "$tmp/port")
}
