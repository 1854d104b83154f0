#!/usr/bin/env bash
# One command for the service benchmarks: ingestion (single and batch), login, dashboard (cached and uncached),
# feature analytics, with the API's peak RSS and GC counts per scenario, next to reference points measured in the
# same run (raw COPY, raw libsodium Argon2id before and after the login rows, the service's own Argon2id alone and
# alongside sign-ins without the hash, an empty
# Kestrel app, the smallest durable ingestion endpoint), and callers that give up on the uncached dashboard (no 5xx, no
# error logged). Prints a Markdown table and writes
# bench/results/<UTC timestamp>.json.
# Usage: bench/run.sh [--quick] [--only LIST]   (quick: 20k users / 200k events, 64 connections, 5 s per scenario after 2 s of warm-up; < 3 min)
#                                  (full:  1M users / 10M events, 16/64/256 connections, 12 s each; < 20 min)
#   --only LIST: comma-separated parts to run, for working on one of them: ceiling, argon2, login, dashboard,
#   features, copy, ingest (default: all). The data set is generated either way.
# Needs the .NET SDK, PostgreSQL server binaries, redis-server, libsodium and wrk (installed with apt as root).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
source "$root/scripts/lib/services.sh"

mode=full
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) mode=quick; shift ;;
    --only) only="${2:?--only needs a list}"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [[ "$mode" == quick ]]; then
  users=20000 events=200000 days=30 levels="64" duration=5 warmup=2 copy_rows=100000 argon_seconds=3 login_jit_seconds=8 storm_seconds=5
else
  users=1000000 events=10000000 days=30 levels="16 64 256" duration=12 warmup=5 copy_rows=1000000 argon_seconds=10 login_jit_seconds=15 storm_seconds=10
fi
# For trying the harness itself on a tiny data set: BENCH_USERS, BENCH_EVENTS, BENCH_DURATION, BENCH_COPY_ROWS;
# BENCH_KEEP=1 keeps the temporary folder (server logs, raw wrk outputs).
users="${BENCH_USERS:-$users}" events="${BENCH_EVENTS:-$events}" duration="${BENCH_DURATION:-$duration}" copy_rows="${BENCH_COPY_ROWS:-$copy_rows}"
threads="$(nproc)"
want() { [[ -z "$only" || ",$only," == *",$1,"* ]]; }

started_at="$(date -u +%Y%m%dT%H%M%SZ)"
t0=$SECONDS
work="$(mktemp -d -t analytics-bench.XXXXXX)"
chmod 755 "$work"
mkdir -p "$work/runs" "$bench/results"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  stop_services
  if [[ -n "${BENCH_KEEP:-}" ]]; then log "kept $work (raw wrk outputs in runs/)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed() { echo "$(( SECONDS - t0 ))s"; }

# --- tools -------------------------------------------------------------------------------------------------
for tool in wrk curl jq python3; do
  if ! command -v "$tool" >/dev/null; then
    apt_install "$tool" || die "$tool is missing and could not be installed; install the '$tool' package"
  fi
done
ensure_libsodium
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log "[$(elapsed)] building Release (API and bench/Argon2, bench/CancelStorm, bench/Ceiling, bench/GcProbe)"
# One build of all five (bench/Bench.slnx), so MSBuild builds them side by side.
dotnet build "$bench/Bench.slnx" -c Release -v quiet -nologo >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "the Release build failed"; }
api_dir="$root/src/Analytics.Api"
api_dll="$api_dir/bin/Release/net10.0/Analytics.Api.dll"
probe_dll="$bench/GcProbe/bin/Release/net10.0/Analytics.Bench.GcProbe.dll"
argon_dll="$bench/Argon2/bin/Release/net10.0/Analytics.Bench.Argon2.dll"
storm_dll="$bench/CancelStorm/bin/Release/net10.0/Analytics.Bench.CancelStorm.dll"

# --- services ------------------------------------------------------------------------------------------------
pg_port="$(free_port)"
log "[$(elapsed)] starting PostgreSQL on 127.0.0.1:$pg_port (fsync on, default durability)"
start_postgres "$work/pg" "$pg_port"
psql_db() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d analytics "$@"; }
"$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres analytics
redis_port="$(free_port)"
log "[$(elapsed)] starting Redis on 127.0.0.1:$redis_port"
start_redis "$work/redis" "$redis_port"

admin_email="admin@bench.example"
admin_password="Bench-$(openssl rand -hex 12)"
export ASPNETCORE_ENVIRONMENT=Production
export Logging__LogLevel__Default=Warning
export ConnectionStrings__Postgres="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=analytics"
export Redis__ConnectionString="127.0.0.1:$redis_port"
export Jwt__SigningKey="$(openssl rand -base64 48)"
export Jwt__AccessTokenLifetime=02:00:00
export Admin__Email="$admin_email" Admin__Password="$admin_password"
export Jobs__Enabled=false
export Events__ApiKeyRatePerSecond=1000000000 Events__ApiKeyBurst=1000000000
export SignIn__MaxAttemptsPerEmail=1000000000 SignIn__MaxAttemptsPerIp=1000000000

wait_ready() { # URL PID LOG
  local i
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "the process serving $1 exited"; }
    sleep 0.1
  done
  cat "$3" >&2
  die "$1 did not answer within 30 s"
}

# start_api NAME PORT [VAR=value ...]: serves the API like production; sets api_pid.
start_api() {
  local name="$1" port="$2"
  shift 2
  (cd "$api_dir" && exec env DOTNET_STARTUP_HOOKS="$probe_dll" BENCH_GC_FILE="$work/$name.gc" "$@" \
    dotnet "$api_dll" --urls "http://127.0.0.1:$port" >"$work/$name.log" 2>&1) &
  api_pid=$!
  pids+=("$api_pid")
  wait_ready "http://127.0.0.1:$port/health/ready" "$api_pid" "$work/$name.log"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

log "[$(elapsed)] migrating"
(cd "$api_dir" && dotnet "$api_dll" migrate >"$work/migrate.log" 2>&1) || { cat "$work/migrate.log" >&2; die "migrate failed"; }

# --- data set ------------------------------------------------------------------------------------------------
api_key="" demo_password=""
seed_started=$SECONDS
if [[ -d "$api_dir/Features/Seed" ]]; then
  log "[$(elapsed)] seeding $users users / $events events over $days days (seed command)"
  (cd "$api_dir" && dotnet "$api_dll" seed --users "$users" --events "$events" --days "$days") >"$work/seed.out" 2>"$work/seed.err" \
    || { cat "$work/seed.err" >&2; die "seed failed"; }
  # Its phases with their start times (the progress counters redraw one line with carriage returns: left out).
  tr '\r' '\n' <"$work/seed.err" | grep -E '^\[ *[0-9.]+ s\]' | while IFS= read -r line; do log "[$(elapsed)]   seed $line"; done
  api_key="$(grep -oE 'ak_[A-Za-z0-9]{12}_[A-Za-z0-9]{43}' "$work/seed.out" | head -1 || true)"
  # The seed prints the shared demo password on a line of its own: "   password <password>   (generated users ...)".
  demo_password="$(grep -m1 -oP '^\s+password \K\S+' "$work/seed.out" || true)"
  data_source="seed command"
fi
api_port="$(free_port)"
log "[$(elapsed)] starting the API on 127.0.0.1:$api_port (Production, Warning logs)"
start_api api "$api_port"
main_pid=$api_pid
base="http://127.0.0.1:$api_port"

login_token() { # EMAIL PASSWORD
  curl -fsS --max-time 30 -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg e "$1" --arg p "$2" '{email: $e, password: $p}')" "$base/api/v1/auth/login" | jq -r .accessToken
}
admin_token="$(login_token "$admin_email" "$admin_password")"
[[ -n "$admin_token" && "$admin_token" != null ]] || die "admin login failed"

if [[ -z "${data_source:-}" ]]; then
  # No seed command in this build: generate the same shape with SQL, every user with the admin's password.
  log "[$(elapsed)] seeding $users users / $events events over $days days (bench/sql/fallback-seed.sql: no seed command in this build)"
  hash="$(psql_db -tAc "select password_hash from users where role = 'admin' limit 1")"
  psql_db -v users="$users" -v events="$events" -v days="$days" -v hash="$hash" -f "$bench/sql/fallback-seed.sql" >"$work/seed.out"
  demo_password="$admin_password"
  # Running a daily report brings the rollups up to date first.
  curl -fsS --max-time 900 -X POST -H "Authorization: Bearer $admin_token" \
    "$base/api/v1/admin/reports/daily/$(date -u -d yesterday +%F)/run" >/dev/null || die "rollups (daily report run) failed"
  data_source="bench/sql/fallback-seed.sql + rollups via a daily report run"
fi
seed_seconds=$(( SECONDS - seed_started ))
# Settle the database as a running service's would be, not mid-bulk-load: visibility map and statistics set
# (index-only scans), dirty buffers written out, so no scenario measures the aftermath of the generation.
settle_started=$SECONDS
psql_db -c "vacuum (analyze)" -c "checkpoint" >/dev/null
log "[$(elapsed)] database settled after the data set (vacuum analyze, checkpoint: $(( SECONDS - settle_started ))s)"
if [[ -z "$api_key" ]]; then
  api_key="$(curl -fsS --max-time 10 -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "$base/api/v1/api-keys" | jq -r .key)"
fi
[[ "$api_key" == ak_* ]] || die "no API key"
[[ -n "$demo_password" ]] || die "could not read the demo password from the seed output (see $work/seed.out)"

# Login users: active non-admin accounts whose hash is the demo one (the most common hash among them).
psql_db -tAc "
  with h as (select password_hash from users where role = 'user' and status = 'active'
             group by 1 order by count(*) desc limit 1)
  select email from users where role = 'user' and status = 'active' and password_hash = (select password_hash from h)
  order by email limit 512" >"$work/login-users.txt"
[[ -s "$work/login-users.txt" ]] || die "no active demo users to sign in with"
login_user_count="$(wc -l <"$work/login-users.txt")"
probe_email="$(head -1 "$work/login-users.txt")"
probe_token="$(login_token "$probe_email" "$demo_password" || true)"
[[ -n "$probe_token" && "$probe_token" != null ]] || die "demo user $probe_email cannot sign in with the demo password"

data_users="$(psql_db -tAc 'select count(*) from users')"
data_events="$(psql_db -tAc 'select count(*) from events')"
log "[$(elapsed)] data set: $data_users users, $data_events events ($data_source, ${seed_seconds}s)"

# --- bodies ----------------------------------------------------------------------------------------------------
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
single = {"type": "page_view", "url": "https://app.example/pricing", "referrer": "https://www.google.com/",
          "sessionId": "bench-session-1", "externalUserId": "bench-user-1", "properties": {"plan": "pro", "ab": "b"}}
kinds = [("page_view", None), ("click", "signup_button"), ("feature_click", "export"), ("feature_click", "search"), ("custom", "checkout")]
batch = []
for i in range(500):
    t, name = kinds[i % len(kinds)]
    e = {"type": t, "url": f"https://app.example/p/{i % 40}", "sessionId": f"bench-session-{i // 25}",
         "externalUserId": f"bench-user-{i % 97}", "properties": {"plan": "pro", "n": i}}
    if name:
        e["name"] = name
    batch.append(e)
json.dump(single, open(f"{work}/event.json", "w"))
json.dump({"events": batch}, open(f"{work}/batch.json", "w"))
PY

# --- measurement -------------------------------------------------------------------------------------------
# measure NAME CONNECTIONS EVENTS_PER_REQUEST PID TIMEOUT URL SCRIPT [VAR=value ...]
# Runs wrk (after a warm-up) while sampling the process's RSS every 100 ms and its GC counts before and after.
manifest="$work/runs/manifest.tsv"
measure() {
  local name="$1" conns="$2" per_request="$3" pid="$4" timeout="$5" url="$6" script="$7"
  shift 7
  local tag="$name-c$conns" gc_file="$work/$( [[ -n "${gc_name:-}" ]] && echo "$gc_name" || echo api ).gc"
  local wrk_cmd=(env BENCH_WRK_DIR="$bench/wrk" "$@" wrk -t "$threads" -c "$conns" --timeout "$timeout" --latency -s "$bench/wrk/$script")
  if (( warmup > 0 )); then
    "${wrk_cmd[@]}" -d "${warmup}s" "$url" >/dev/null 2>&1 || true
  fi
  cat "$gc_file" >"$work/runs/$tag.gc0" 2>/dev/null || true
  ( while kill -0 "$pid" 2>/dev/null; do
      awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null
      sleep 0.1
    done ) >"$work/runs/$tag.rss" &
  local sampler=$!
  "${wrk_cmd[@]}" -d "${duration}s" "$url" >"$work/runs/$tag.wrk" 2>&1 || true
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sleep 0.3
  cat "$gc_file" >"$work/runs/$tag.gc1" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\n' "$name" "$conns" "$per_request" "$tag" >>"$manifest"
  local rps
  rps="$(grep -oE 'Requests/sec:[[:space:]]+[0-9.]+' "$work/runs/$tag.wrk" | awk '{ print $2 }')"
  log "[$(elapsed)]   $name @ $conns connections: ${rps:-?} req/s"
}
: >"$manifest"

if want ceiling; then
# The HTTP ceiling: an empty Kestrel app, run and measured the same way.
ceiling_port="$(free_port)"
log "[$(elapsed)] reference: empty Kestrel app (the HTTP ceiling)"
(exec env ASPNETCORE_URLS="http://127.0.0.1:$ceiling_port" DOTNET_STARTUP_HOOKS="$probe_dll" BENCH_GC_FILE="$work/ceiling.gc" \
  dotnet "$bench/Ceiling/bin/Release/net10.0/Analytics.Bench.Ceiling.dll" >"$work/ceiling.log" 2>&1) &
ceiling_pid=$!
pids+=("$ceiling_pid")
wait_ready "http://127.0.0.1:$ceiling_port/" "$ceiling_pid" "$work/ceiling.log"
for c in $levels; do
  gc_name=ceiling measure ceiling "$c" 0 "$ceiling_pid" 5s "http://127.0.0.1:$ceiling_port/" get.lua
done
stop_pid "$ceiling_pid"
fi

if want argon2; then
log "[$(elapsed)] reference: raw Argon2id, $threads threads, m=19456 KiB t=2 p=1"
dotnet "$argon_dll" "$argon_seconds" >"$work/runs/argon2.json"
log "[$(elapsed)]   $(cat "$work/runs/argon2.json")"
# The service hashes with its own Argon2id (src/.../Security/Argon2id.cs: the same function, its memory kept between
# hashes); its raw rate on the same threads, for comparison (the target is judged against libsodium's).
dotnet "$argon_dll" "$argon_seconds" 19456 2 service >"$work/runs/argon2_service.json"
log "[$(elapsed)]   the service's Argon2id: $(cat "$work/runs/argon2_service.json")"
fi

# Read scenarios first, on the generated data only (the ingestion scenarios add rows).
if want login; then
log "[$(elapsed)] login (Argon2id defaults, $login_user_count demo users)"
# While both cores hash, the JIT's background thread gets little CPU: the sign-in path takes ~15-20 s to reach its
# optimised code, at about two thirds of the steady rate before. Warm it up that long once (with the first row's own
# warm-up), unmeasured; the quick mode, whose figures are for iterating, warms up 8 s.
env BENCH_WRK_DIR="$bench/wrk" BENCH_USERS_FILE="$work/login-users.txt" BENCH_PASSWORD="$demo_password" \
  wrk -t "$threads" -c 64 -d "$(( warmup < login_jit_seconds ? login_jit_seconds - warmup : 1 ))s" --timeout 30s -s "$bench/wrk/login.lua" "$base" >/dev/null 2>&1 || true
for c in $levels; do
  measure login "$c" 0 "$main_pid" 30s "$base" login.lua BENCH_USERS_FILE="$work/login-users.txt" BENCH_PASSWORD="$demo_password"
done

# The host's speed can drift within minutes: the raw rate again right after the login rows brackets them.
if want argon2; then
  dotnet "$argon_dll" "$argon_seconds" >"$work/runs/argon2_after.json"
  log "[$(elapsed)]   raw Argon2id after the login rows: $(cat "$work/runs/argon2_after.json")"
fi

# Where the login ratio stops: (1) the sign-in's own work without the hash: the same users given an m=8 KiB t=1
# hash, on an instance configured for it (so nothing is rehashed); (2) the service's Argon2id on all cores again, now
# with that work running alongside, paced toward the login rate just measured. (2) is the most hashes/s this machine has
# left while it also serves that many sign-ins. The rate is the best of the login rows.
login_rate="$(cat "$work"/runs/login-c*.wrk 2>/dev/null | grep -oE 'Requests/sec:[[:space:]]+[0-9.]+' | awk '$2 > m { m = $2 } END { if (m) print m }' || true)"
if want argon2 && [[ -n "$login_rate" ]]; then
  log "[$(elapsed)] reference: the sign-in without the hash, then the service's Argon2id alongside it at $login_rate sign-ins/s"
  demo_hash="$(psql_db -tAc "select password_hash from users where email = '$probe_email'")"
  cheap_hash="$(dotnet "$argon_dll" hash "$demo_password" 8 1)"
  psql_db -v hash="$cheap_hash" <<SQL >/dev/null
create table bench_login_users (email citext primary key);
\copy bench_login_users from '$work/login-users.txt'
update users set password_hash = :'hash' where email in (select email from bench_login_users);
SQL
  nohash_port="$(free_port)"
  start_api api-nohash "$nohash_port" Passwords__MemoryKib=8 Passwords__Iterations=1
  nohash_pid=$api_pid
  login_env=(BENCH_USERS_FILE="$work/login-users.txt" BENCH_PASSWORD="$demo_password")
  gc_name=api-nohash measure login_nohash 64 0 "$nohash_pid" 30s "http://127.0.0.1:$nohash_port" login.lua "${login_env[@]}"
  # 64 connections paced to the login rate (bench/wrk/common.lua; the rate reached is reported); the hashing starts
  # 1 s after them and ends before.
  env BENCH_WRK_DIR="$bench/wrk" BENCH_RATE="$login_rate" BENCH_THREADS="$threads" "${login_env[@]}" wrk -t "$threads" -c 64 -d "$(( argon_seconds + 3 ))s" \
    --timeout 30s --latency -s "$bench/wrk/login.lua" "http://127.0.0.1:$nohash_port" >"$work/runs/argon2-alongside.wrk" 2>&1 &
  paced_pid=$!
  pids+=("$paced_pid")
  sleep 1
  dotnet "$argon_dll" "$argon_seconds" 19456 2 service >"$work/runs/argon2-alongside.hash"
  wait "$paced_pid" || true
  python3 - "$work/runs" <<'PY' >"$work/runs/argon2_alongside.json"
import json, sys
runs = sys.argv[1]
hashing = json.loads(open(f"{runs}/argon2-alongside.hash").read().strip().splitlines()[-1])
wrk = next((l for l in open(f"{runs}/argon2-alongside.wrk") if l.startswith("BENCH_JSON ")), None)
if wrk is None:  # wrk failed: report the hashing without a sign-in rate rather than stop the whole run
    hashing["signInsPerSecond"], hashing["signInErrors"] = 0.0, -1
else:
    w = json.loads(wrk[len("BENCH_JSON "):])
    ok = sum(n for s, n in w["statuses"].items() if 200 <= int(s) < 300)
    # Over wrk's whole run, which brackets the hashing by 1-2 s on each side.
    hashing["signInsPerSecond"] = round(ok / (w["duration_us"] / 1e6), 1)
    hashing["signInErrors"] = w["requests"] - ok + sum(w["socket_errors"].values())
print(json.dumps(hashing))
PY
  log "[$(elapsed)]   $(cat "$work/runs/argon2_alongside.json")"
  stop_pid "$nohash_pid"
  psql_db -v hash="$demo_hash" <<'SQL' >/dev/null
update users set password_hash = :'hash' where email in (select email from bench_login_users);
drop table bench_login_users;
SQL
fi
fi

if want dashboard; then
log "[$(elapsed)] dashboard, cached (30-day window)"
for c in $levels; do
  measure dashboard_cached "$c" 0 "$main_pid" 10s "$base/api/v1/admin/dashboard?preset=30d" get.lua BENCH_AUTH="$admin_token"
done
# The target's latency at the target's rate: 64 connections paced to 10,000 requests/s (bench/wrk/common.lua). The rows
# above run flat out, where the p99 is mostly the time a request waits behind the others on two shared cores. Already
# warm from them; 10 s (100,000 requests) keep the full run under 20 minutes.
warmup=0 duration="$(( duration < 10 ? duration : 10 ))" measure dashboard_cached_paced 64 0 "$main_pid" 10s "$base/api/v1/admin/dashboard?preset=30d" get.lua BENCH_AUTH="$admin_token" \
  BENCH_RATE=10000 BENCH_THREADS="$threads"
fi

if want features; then
log "[$(elapsed)] feature analytics over 30 days, cached and uncached"
for c in $levels; do
  measure features_cached "$c" 0 "$main_pid" 10s "$base/api/v1/analytics/features" get.lua BENCH_AUTH="$admin_token"
done
for c in $levels; do
  measure features_uncached "$c" 0 "$main_pid" 30s "$base" features_uncached.lua BENCH_AUTH="$admin_token"
done
fi

if want dashboard; then
log "[$(elapsed)] dashboard, uncached (a second instance with Dashboard__CacheFor=00:00:00)"
nocache_port="$(free_port)"
start_api api-nocache "$nocache_port" Dashboard__CacheFor=00:00:00
nocache_pid=$api_pid
for c in $levels; do
  gc_name=api-nocache measure dashboard_uncached "$c" 0 "$nocache_pid" 30s "http://127.0.0.1:$nocache_port/api/v1/admin/dashboard?preset=30d" get.lua BENCH_AUTH="$admin_token"
done
# Callers that give up (bench/CancelStorm): 256 of them, each abandoning its request after a random 0-300 ms (about
# half of them at this load). Not a target: no abandoned request may cost a 5xx or an error in the API's log.
log "[$(elapsed)] callers that give up: the uncached dashboard, 256 callers abandoning after 0-300 ms"
storm_from="$(wc -l <"$work/api-nocache.log")"
dotnet "$storm_dll" "http://127.0.0.1:$nocache_port/api/v1/admin/dashboard?preset=30d" "$admin_token" "$storm_seconds" 256 300 >"$work/runs/storm.out" \
  || { cat "$work/runs/storm.out" >&2; die "bench/CancelStorm failed"; }
sleep 1
errors_logged="$(tail -n +"$(( storm_from + 1 ))" "$work/api-nocache.log" | grep -cE '^(fail|crit):' || true)"
jq -c --argjson logged "$errors_logged" '. + {errorsLogged: $logged}' "$work/runs/storm.out" >"$work/runs/cancel_storm.json"
log "[$(elapsed)]   $(cat "$work/runs/cancel_storm.json")"
stop_pid "$nocache_pid"
fi

if want copy; then
log "[$(elapsed)] reference: raw COPY of $copy_rows event rows from the client (psql \\copy, one transaction)"
python3 - "$work/copy.csv" "$copy_rows" <<'PY'
import csv, sys, uuid, datetime
path, rows = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
kinds = [("page_view", ""), ("click", "signup_button"), ("feature_click", "export"), ("feature_click", "search"), ("custom", "checkout")]
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    for i in range(rows):
        t, name = kinds[i % len(kinds)]
        w.writerow([uuid.uuid4(), now, now, t, name, "", "", f"bench-user-{i % 97}", f"bench-session-{i // 25}",
                    f"https://app.example/p/{i % 40}", "", '{"n": %d, "plan": "pro"}' % i, "127.0.0.1",
                    "wrk", "desktop", "Other", "Other", "", "", "", "", ""])
PY
psql_db -c "create table bench_copy (like events including defaults including constraints including indexes)" >/dev/null
copy_started="$(date +%s.%N)"
psql_db -c "\\copy bench_copy (id, occurred_at, received_at, type, name, user_id, api_key_id, external_user_id, session_id, url, referrer, properties, ip, user_agent, device_type, browser, os, utm_source, utm_medium, utm_campaign, utm_term, utm_content) from '$work/copy.csv' with (format csv)" >/dev/null
copy_ended="$(date +%s.%N)"
# The COPY writes about a gigabyte of WAL, which starts a checkpoint that PostgreSQL spreads over minutes: finish it
# now (as after the data set), so that the ingestion rows do not measure the aftermath of the reference.
psql_db -c "drop table bench_copy" -c "checkpoint" >/dev/null
python3 -c "import json,sys; s=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps({'rows': int(sys.argv[3]), 'seconds': round(s, 3), 'rowsPerSecond': round(int(sys.argv[3]) / s, 1)}))" \
  "$copy_started" "$copy_ended" "$copy_rows" >"$work/runs/copy.json"
log "[$(elapsed)]   $(cat "$work/runs/copy.json")"
fi

if want ingest; then
# The durable floor (bench/Ceiling with BENCH_FLOOR_PG): the same body, stored as the same row into a table shaped
# like events, group-committed, 202 after the commit; nothing else. Measured at the targets' 64 connections only
# (it is a reference, not a scenario), right before the service's row, so that the host is the same for both.
psql_db -c "create table bench_floor (like events including defaults including constraints including indexes)" >/dev/null
floor_port="$(free_port)"
(exec env ASPNETCORE_URLS="http://127.0.0.1:$floor_port" DOTNET_STARTUP_HOOKS="$probe_dll" BENCH_GC_FILE="$work/floor.gc" \
  BENCH_FLOOR_PG="$ConnectionStrings__Postgres;No Reset On Close=true" \
  dotnet "$bench/Ceiling/bin/Release/net10.0/Analytics.Bench.Ceiling.dll" >"$work/floor.log" 2>&1) &
floor_pid=$!
pids+=("$floor_pid")
wait_ready "http://127.0.0.1:$floor_port/" "$floor_pid" "$work/floor.log"
log "[$(elapsed)] ingestion: one event per request (API key; at 64 connections after the durable floor)"
for c in $levels; do
  if (( c == 64 )); then
    gc_name=floor measure floor_single "$c" 1 "$floor_pid" 10s "http://127.0.0.1:$floor_port/events" post_events.lua BENCH_BODY_FILE="$work/event.json"
  fi
  measure ingest_single "$c" 1 "$main_pid" 10s "$base/api/v1/events" post_events.lua BENCH_BODY_FILE="$work/event.json" BENCH_API_KEY="$api_key"
done
stop_pid "$floor_pid"
psql_db -c "drop table bench_floor" >/dev/null
log "[$(elapsed)] ingestion: 500 events per request (API key)"
for c in $levels; do
  measure ingest_batch "$c" 500 "$main_pid" 30s "$base/api/v1/events/batch" post_events.lua BENCH_BODY_FILE="$work/batch.json" BENCH_API_KEY="$api_key"
done
fi
events_after="$(psql_db -tAc 'select count(*) from events')"
hwm_kb="$(awk '/^VmHWM/ { print $2 }' "/proc/$main_pid/status" 2>/dev/null || echo 0)"

# --- report ----------------------------------------------------------------------------------------------------
settings="$(psql_db -tAc "select string_agg(name || '=' || setting || coalesce(unit, ''), ', ' order by name) from pg_settings
  where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'wal_level', 'max_wal_size', 'work_mem')")"
out="$bench/results/$started_at.json"
python3 "$bench/report.py" --runs "$work/runs" --out "$out" \
  --meta mode="$mode" started_at="$started_at" \
  commit="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src bench || echo '+dirty')" \
  cpu="$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" nproc="$threads" \
  memory_mb="$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)" \
  dotnet="$(dotnet --version)" postgres="$("$PG_BIN/postgres" --version)" redis="$(redis-server --version | awk '{ print $3 }')" \
  wrk="$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')" pg_settings="$settings" \
  data_source="$data_source" users="$data_users" events="$data_events" events_after_ingestion="$events_after" days="$days" seed_seconds="$seed_seconds" \
  login_users="$login_user_count" duration_s="$duration" warmup_s="$warmup" wrk_threads="$threads" api_vmhwm_kb="$hwm_kb" \
  total_seconds="$(( SECONDS - t0 ))"
log "[$(elapsed)] results written to ${out#"$root"/}"
