#!/usr/bin/env bash
# Runs the service on a loopback port. When ConnectionStrings__Postgres / Redis__ConnectionString are not set,
# starts local PostgreSQL and Redis with their data in .data/ (git-ignored) and stops them on Ctrl-C.
# Usage: scripts/run.sh [--port N] [--production] [--seed]
# --seed loads the demo data (admin, demo users, events, API key, rollups, reports) before serving; running it again adds nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/lib/services.sh"

port="${PORT:-5080}"
environment="${ASPNETCORE_ENVIRONMENT:-Development}"
seed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --production) environment=Production; shift ;;
    --seed) seed=1; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

data="$root/.data"
mkdir -p "$data"
chmod 755 "$data"
trap stop_services EXIT
trap 'exit 130' INT TERM

if [[ -z "${ConnectionStrings__Postgres:-}" ]]; then
  pg_port="$(free_port)"
  pg_data="$data/postgres"
  if ! as_pg_user test -x "$data"; then
    # As root in a folder the postgres user cannot enter (a clone under /root): keep the cluster where it can.
    pg_data="/var/tmp/analytics-$(printf '%s' "$root" | md5sum | cut -c1-12)/postgres"
    mkdir -p "$pg_data" && chmod 755 "$(dirname "$pg_data")"
  fi
  log "starting local PostgreSQL on 127.0.0.1:$pg_port (data in ${pg_data#"$root/"})"
  start_postgres "$pg_data" "$pg_port"
  if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tAc "select 1 from pg_database where datname = 'analytics'" | grep -q 1; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres analytics
  fi
  export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=analytics"
fi
if [[ -z "${Redis__ConnectionString:-}" ]]; then
  redis_port="$(free_port)"
  log "starting local Redis on 127.0.0.1:$redis_port"
  start_redis "$data/redis" "$redis_port"
  export Redis__ConnectionString="127.0.0.1:$redis_port"
fi

if [[ "$environment" == Production && -z "${Jwt__SigningKey:-}" ]]; then
  # Production refuses to start without a signing key: make one for this machine and keep it, so tokens survive restarts.
  if [[ ! -s "$data/jwt-signing-key" ]]; then
    (umask 077; head -c 48 /dev/urandom | base64 -w0 > "$data/jwt-signing-key")
    log "made a JWT signing key for Production in .data/jwt-signing-key"
  fi
  export Jwt__SigningKey="$(cat "$data/jwt-signing-key")"
fi

ensure_libsodium
"$root/scripts/build-web.sh"
log "building the API"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build "$root/src/Analytics.Api" -c Release -v quiet -nologo >/dev/null

# The content root (appsettings, wwwroot) is the project folder.
cd "$root/src/Analytics.Api"
if [[ "$seed" -eq 1 ]]; then
  log "migrating and seeding the demo data"
  ASPNETCORE_ENVIRONMENT="$environment" dotnet bin/Release/net10.0/Analytics.Api.dll seed
fi

url="http://127.0.0.1:$port"
# The activation link in the (simulated) e-mails opens this API's own activation page unless a front-end is named.
export Activation__LinkBaseUrl="${Activation__LinkBaseUrl:-$url/activate}"
cat >&2 <<INFO

  API            $url/api/v1
  API reference  $url/scalar
  OpenAPI        $url/openapi/v1.json
  Readiness      $url/health/ready
  Environment    $environment   (Ctrl-C stops the API and what this script started)

INFO
# The API runs as a child so that a TERM (not only a terminal's Ctrl-C) stops it before the servers this script started.
ASPNETCORE_ENVIRONMENT="$environment" dotnet bin/Release/net10.0/Analytics.Api.dll --urls "$url" &
api_pid=$!
trap 'kill -TERM "$api_pid" 2>/dev/null; wait "$api_pid" 2>/dev/null; exit 130' INT TERM
wait "$api_pid"
