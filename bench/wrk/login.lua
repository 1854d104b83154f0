-- POST /api/v1/auth/login, cycling through the e-mails in BENCH_USERS_FILE (one per line) with BENCH_PASSWORD,
-- each wrk thread starting at a different place so that no single address takes every attempt. With
-- BENCH_DELAY_MS each connection waits that long between its requests (a paced load instead of flat out).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local emails = {}
for line in io.lines(os.getenv("BENCH_USERS_FILE")) do
  if line ~= "" then table.insert(emails, line) end
end
local password = os.getenv("BENCH_PASSWORD")
local next_index = 0
local headers = { ["Content-Type"] = "application/json" }
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause then
  function delay() return pause end
end

function init(args)
  next_index = (id or 0) * 7919
end

function request()
  next_index = next_index + 1
  local email = emails[(next_index % #emails) + 1]
  local body = string.format('{"email":"%s","password":"%s"}', email, password)
  return wrk.format("POST", "/api/v1/auth/login", headers, body)
end
