-- wrk script for `make soak` (scripts/soak.sh): one kind of traffic per wrk process, chosen by
-- SOAK_MODE, and a count of every status seen; done() prints them and how many were unexpected.
--   submit   valid submissions (bench organization, unlimited quota) of SOAK_BODIES small files,
--            force=0 after the first analysis of each            -> 200 only
--   page     the token page with a session cookie (SOAK_COOKIE)  -> 200 only
--   invalid  from another client address: unknown tokens (SOAK_UNKNOWN), malformed tokens,
--            a missing session, a bad JSON sign-in, unknown paths and methods
--            -> 400 401 404 405, and 429 (the invalid-token throttle for that address)
local mode = os.getenv("SOAK_MODE") or "submit"
local token = os.getenv("SOAK_TOKEN") or ""
local cookie = os.getenv("SOAK_COOKIE") or ""
local unknown = os.getenv("SOAK_UNKNOWN") or ""
local nbodies = tonumber(os.getenv("SOAK_BODIES") or "16")

local expected = {
  submit = { [200] = true },
  page = { [200] = true },
  invalid = { [400] = true, [401] = true, [404] = true, [405] = true, [429] = true },
}

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  unexpected = 0
  n = 0
end

local function body_for(i)
  -- Plain text of a few hundred bytes; nbodies distinct files.
  return string.rep("soak test file " .. i .. " of sandgate; ", 12) .. "\n"
end

function request()
  n = n + 1
  if mode == "submit" then
    local i = n % nbodies
    return wrk.format("POST", "/zscsb/submit?api_token=" .. token,
      { ["Content-Type"] = "application/octet-stream" }, body_for(i))
  elseif mode == "page" then
    return wrk.format("GET", "/api/v1/sandbox/token", { ["Cookie"] = "sg_session=" .. cookie }, nil)
  else
    local k = n % 6
    if k == 0 or k == 1 then
      return wrk.format("POST", "/zscsb/submit?api_token=" .. unknown, nil, "guess\n")
    elseif k == 2 then
      return wrk.format("POST", "/zscsb/submit?api_token=sbx_not-a-token", nil, "guess\n")
    elseif k == 3 then
      return wrk.format("GET", "/api/v1/sandbox/token", nil, nil)
    elseif k == 4 then
      return wrk.format("POST", "/api/v1/authenticatedSession",
        { ["Content-Type"] = "application/json" }, "{\"username\":")
    else
      if n % 12 == 5 then return wrk.format("DELETE", "/healthz", nil, nil) end
      return wrk.format("GET", "/no/such/path?x=1", nil, nil)
    end
  end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if not expected[mode][status] then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local total, bad = {}, 0
  for _, t in ipairs(threads) do
    for status, c in pairs(t:get("counts")) do total[status] = (total[status] or 0) + c end
    bad = bad + t:get("unexpected")
  end
  for status, c in pairs(total) do io.write(string.format("soak-status %s %d %d\n", mode, status, c)) end
  io.write(string.format("soak-unexpected %s %d\n", mode, bad))
  io.write(string.format("soak-errors %s connect=%d read=%d write=%d timeout=%d status=%d\n", mode,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status))
end
