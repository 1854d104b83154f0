-- GET /api/v1/analytics/features over ~30 days with a different startDate (to the second) on every request, so
-- that almost no request finds a cached answer: the cost of the query itself.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_AUTH")
local base = os.time() - 30 * 86400
local counter = 0

function init(args)
  math.randomseed(os.time() + (id or 0) * 1000003)
  counter = math.random(0, 86400)
end

function request()
  counter = counter + 1
  local start = os.date("!%Y-%m-%dT%H:%M:%SZ", base - (counter * 37) % 86400)
  return wrk.format("GET", "/api/v1/analytics/features?startDate=" .. start)
end
