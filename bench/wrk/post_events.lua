-- POST the JSON in BENCH_BODY_FILE (one event or a batch) with the API key in BENCH_API_KEY; body and headers
-- are fixed, so wrk sends them without per-request Lua work (the server assigns every event a new id).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.body = read_file(os.getenv("BENCH_BODY_FILE"))
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then
  wrk.headers["X-Api-Key"] = key
end
