-- wrk script for Roster's load harness (bench/run.sh starts wrk with it; see README,
-- "Benchmarks"). Parameters come from the environment, so that they are known when wrk
-- loads the script and decides whether requests are static:
--   BENCH_ENDPOINT  healthz | newEvent | newContact | getCustomers
--   BENCH_APP_ID, BENCH_API_KEY, BENCH_SECRET_KEY  the preloaded app
--   BENCH_CONTACTS  preloaded contacts, user ids u0 .. u<n-1>
--   BENCH_TAG       distinct per run, so event ids and new contacts never repeat
--   BENCH_AREA      area code of newContact's phone numbers (distinct per run)
--   BENCH_THREADS   wrk's -t
-- Every request body differs: newEvent has a unique event id for a random preloaded
-- contact, newContact a new contact (unique user id, email and phone), getCustomers a
-- random offset over the whole table. done() prints one JSON line for roster-bench.

local endpoint = os.getenv("BENCH_ENDPOINT") or "healthz"
local app_id = os.getenv("BENCH_APP_ID") or ""
local contacts = tonumber(os.getenv("BENCH_CONTACTS") or "1")
local tag = os.getenv("BENCH_TAG") or "t"
local area = os.getenv("BENCH_AREA") or "212"
local limit = 100

if endpoint == "healthz" then
  -- A static request: wrk builds it once, the cheapest load it can generate.
  wrk.method = "GET"
  wrk.path = "/healthz"
else
  wrk.method = "POST"
  wrk.path = "/v2/ExternalApi/" .. endpoint
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-KEY"] = os.getenv("BENCH_API_KEY") or ""
  wrk.headers["X-SECRET-KEY"] = os.getenv("BENCH_SECRET_KEY") or ""
end

-- Thread numbering (setup runs in wrk's main Lua state, once per thread).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
-- Thread t numbers its requests t, t + n, t + 2n... (n threads): dense and never shared.
local stride = tonumber(os.getenv("BENCH_THREADS") or "1")

-- The request line and headers, built once (wrk has set Host when init runs); each
-- request adds only its length and body. wrk.format rebuilt them all for every request,
-- and the generator shares the server's two cores.
local head

function init(args)
  math.randomseed((tid or 0) * 7919 + os.time())
  local lines = { wrk.method .. " " .. wrk.path .. " HTTP/1.1" }
  for name, value in pairs(wrk.headers) do
    lines[#lines + 1] = name .. ": " .. value
  end
  head = table.concat(lines, "\r\n") .. "\r\nContent-Length: "
end

local function next_index()
  local i = counter * stride + (tid or 0)
  counter = counter + 1
  return i
end

local bodies = {
  newEvent = function()
    local i = next_index()
    local k = math.random(0, contacts - 1)
    local purchase = i % 5 == 0
    return string.format(
      '{"app_id":"%s","user_id":"u%d","id":"e%s-%d","event_type":"%s","event_name":"Spin",'
        .. '"event_date":"2025-02-%02d","event_time":"6:30 PM","is_visit":%s,"is_purchase":%s,'
        .. '"location":"Downtown","event_data":{"staff":"Kim","room":%d}}',
      app_id, k, tag, i, purchase and "purchase" or "visit", 1 + i % 28,
      tostring(not purchase), tostring(purchase), i % 7)
  end,
  newContact = function()
    local i = next_index()
    return string.format(
      '{"app_id":"%s","first_name":"New%d","last_name":"Bench","email":"n%s-%d@bench.example",'
        .. '"user_id":"n%s-%d","phone":"+1%s%d","tags":"bench","plan":"gold"}',
      app_id, i, tag, i, tag, i, area, 2000000 + i)
  end,
  getCustomers = function()
    local offset = math.random(0, math.max(contacts - limit, 0))
    return string.format('{"app_id":"%s","limit":%d,"offset":%d}', app_id, limit, offset)
  end,
}

if endpoint ~= "healthz" then
  local body = bodies[endpoint]
  if body == nil then
    error("unknown BENCH_ENDPOINT " .. endpoint)
  end
  function request()
    local b = body()
    return head .. #b .. "\r\n\r\n" .. b
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
