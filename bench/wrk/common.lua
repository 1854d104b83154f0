-- Shared by every scenario script (loaded with dofile): counts responses by status in each wrk thread and, at the
-- end, prints one line "BENCH_JSON {...}" with requests, duration, latency percentiles (µs), socket errors and
-- the status counts, which bench/report.py reads. With BENCH_RATE (requests/s over all BENCH_THREADS wrk threads)
-- the load is paced instead of flat out (see pace below).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx_3xx":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status, table.concat(parts, ",")))
end

function read_file(path)
  local f = assert(io.open(path, "rb"))
  local content = f:read("*a")
  f:close()
  return content
end

-- Paced load: each wrk thread sends at BENCH_RATE / BENCH_THREADS requests/s on a fixed schedule. Before each request
-- wrk asks delay() how long to wait; the request takes the thread's next free slot on the schedule, so the rate does
-- not depend on the responses' latency as long as the connections keep up. A schedule that fell behind by more than a
-- second is restarted rather than caught up in one burst (then the rate reached is lower, and reported as reached).
-- Latency is measured by wrk from each request's actual send.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
if rate and rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock, bench_timespec *ts);
  ]]
  local ts = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 / (rate / tonumber(os.getenv("BENCH_THREADS") or "1"))
  local next_slot = nil

  function delay()
    local now = now_ms()
    if next_slot == nil or next_slot < now - 1000 then
      next_slot = now
    end
    local wait = next_slot - now
    next_slot = next_slot + interval
    return wait > 0 and math.floor(wait) or 0
  end
end
