-- GET the request path given on the wrk command line, with BENCH_AUTH (a bearer token) when set.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local token = os.getenv("BENCH_AUTH")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
