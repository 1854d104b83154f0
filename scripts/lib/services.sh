# Shared by scripts/run.sh and scripts/test.sh: start throwaway or local PostgreSQL and Redis on loopback.
# Functions only; the caller owns the folder and calls stop_services on exit.

PG_BIN="${PG_BIN:-}"
STARTED_PG_DIR=""
STARTED_REDIS_DIR=""

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# A free TCP port on 127.0.0.1, starting from a random point in the ephemeral range.
free_port() {
  # Below the kernel's ephemeral range: a port in it can be taken by any outgoing connection (a load generator's
  # thousands of loopback sockets) between this check and the server's bind.
  local port tries=0 low=32768
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  (( low > 11000 )) || low=32768
  while (( tries < 200 )); do
    port=$(( 10000 + RANDOM % (low - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
    tries=$(( tries + 1 ))
  done
  die "no free port found on 127.0.0.1"
}

find_pg_bin() {
  [[ -n "$PG_BIN" && -x "$PG_BIN/pg_ctl" ]] && return 0
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    [[ -x "$candidate/pg_ctl" ]] && PG_BIN="$candidate"
  done
  if [[ -z "$PG_BIN" ]] && command -v pg_ctl >/dev/null; then
    PG_BIN="$(dirname "$(command -v pg_ctl)")"
  fi
  if [[ -z "$PG_BIN" ]]; then
    apt_install postgresql || die "PostgreSQL server binaries not found; install the 'postgresql' package or set ConnectionStrings__Postgres"
    find_pg_bin
  fi
}

apt_install() {
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# Argon2id password hashing needs libsodium (Debian: libsodium23).
ensure_libsodium() {
  if ! ldconfig -p 2>/dev/null | grep -q 'libsodium\.so'; then
    apt_install libsodium23 || die "libsodium is missing and could not be installed; install the 'libsodium23' package"
  fi
}

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg_user() {
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_postgres DIR PORT [fast]: initialises DIR/pgdata when empty and starts the server on 127.0.0.1:PORT.
# "fast" turns off fsync: for throwaway test clusters only.
start_postgres() {
  local dir="$1" port="$2" mode="${3:-}"
  find_pg_bin
  mkdir -p "$dir"
  [[ "$(id -u)" == 0 ]] && { id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres; chown -R postgres "$dir"; }
  if [[ ! -f "$dir/pgdata/PG_VERSION" ]]; then
    as_pg_user "$PG_BIN/initdb" -D "$dir/pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: see $dir/initdb.log"
  fi
  # A server left running by an earlier, killed run would hold the data folder.
  if as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null
  fi
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300"
  [[ "$mode" == fast ]] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_pg_user "$PG_BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null \
    || die "PostgreSQL did not start: see $dir/postgres.log"
  STARTED_PG_DIR="$dir"
}

# redis-server on the PATH: installed with apt when missing.
ensure_redis_server() {
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server || die "redis-server is missing and could not be installed; install the 'redis-server' package"
  fi
}

# start_redis DIR PORT: installs redis-server with apt when missing, then starts it on 127.0.0.1:PORT.
start_redis() {
  local dir="$1" port="$2"
  ensure_redis_server
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null \
    || die "redis-server did not start: see $dir/redis.log"
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { STARTED_REDIS_DIR="$dir"; return 0; }
    sleep 0.1
  done
  die "redis-server did not answer on port $port: see $dir/redis.log"
}

stop_services() {
  if [[ -n "$STARTED_REDIS_DIR" && -f "$STARTED_REDIS_DIR/redis.pid" ]]; then
    kill "$(cat "$STARTED_REDIS_DIR/redis.pid")" 2>/dev/null || true
  fi
  if [[ -n "$STARTED_PG_DIR" ]]; then
    as_pg_user "$PG_BIN/pg_ctl" -D "$STARTED_PG_DIR/pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  STARTED_PG_DIR=""
  STARTED_REDIS_DIR=""
}
