-- POST /api/v1/auth/login, cycling through the e-mails in BENCH_USERS_FILE (one per line) with BENCH_PASSWORD,
-- each wrk thread starting at a different place so that no single address takes every attempt. BENCH_RATE paces
-- the load (common.lua).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local emails = {}
for line in io.lines(os.getenv("BENCH_USERS_FILE")) do
  if line ~= "" then table.insert(emails, line) end
end
local password = os.getenv("BENCH_PASSWORD")
local next_index = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  next_index = (id or 0) * 7919
end

function request()
  next_index = next_index + 1
  local email = emails[(next_index % #emails) + 1]
  local body = string.format('{"email":"%s","password":"%s"}', email, password)
  return wrk.format("POST", "/api/v1/auth/login", headers, body)
end
