#!/usr/bin/env bash
# Starts a private redis-server on a free loopback port, runs the Release benchmark against it, stops the server.
# Extra arguments go to the benchmark, e.g. ./run.sh --seconds 5
set -euo pipefail
cd "$(dirname "$0")"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$data_dir" >"$data_dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$data_dir"' EXIT

for _ in $(seq 1 100); do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done

dotnet run -c Release -- --endpoint "127.0.0.1:$port" "$@"
