#!/usr/bin/env bash
# Runs every test project against a real PostgreSQL and Redis.
# Uses ConnectionStrings__Postgres / Redis__ConnectionString when given; otherwise starts throwaway servers
# on free loopback ports in a temporary folder and stops them at the end.
# TEST_TARGET narrows the run to one test project; extra arguments go to dotnet test (e.g. --filter).
# Ends with one line: "N passed, N failed, N skipped". Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/services.sh"

work="$(mktemp -d -t analytics-test.XXXXXX)"
chmod 755 "$work"
cleanup() { stop_services; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  port="$(free_port)"
  log "starting throwaway PostgreSQL on 127.0.0.1:$port"
  start_postgres "$work/pg" "$port" fast
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
fi
if [[ -z "${Redis__ConnectionString:-}" ]]; then
  port="$(free_port)"
  log "starting throwaway Redis on 127.0.0.1:$port"
  start_redis "$work/redis" "$port"
  export Redis__ConnectionString="127.0.0.1:$port"
fi

# Some tests start redis-server processes of their own (reconnects, a server that refuses clients), also when
# Redis__ConnectionString names a server elsewhere.
ensure_redis_server
ensure_libsodium
"$root/scripts/build-web.sh"

log "building and running the tests"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
status=0
target="$root/Analytics.sln"
if [[ -n "${TEST_TARGET:-}" ]]; then
  # Relative to the caller's folder, or else to the repository's root.
  if [[ -e "$TEST_TARGET" ]]; then target="$TEST_TARGET"; elif [[ -e "$root/$TEST_TARGET" ]]; then target="$root/$TEST_TARGET"; else die "TEST_TARGET $TEST_TARGET: no such project"; fi
fi
dotnet test "$target" -c Debug --logger "console;verbosity=normal" "$@" 2>&1 | tee "$work/test.log" || status=$?

# VSTest prints a summary block per test assembly ("     Passed: 12"); add them up.
sum() { { grep -E "^ *$1: *[0-9]+ *$" "$work/test.log" || true; } | awk -F: '{ n += $2 } END { print n + 0 }'; }
passed="$(sum Passed)"; failed="$(sum Failed)"; skipped="$(sum Skipped)"
if [[ "$status" -eq 0 && "$passed" -eq 0 ]]; then
  echo "no test ran" >&2
  status=1
fi
[[ "$status" -ne 0 && "$failed" -eq 0 ]] && echo "dotnet test failed before or outside the tests (exit $status): see above" >&2
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
