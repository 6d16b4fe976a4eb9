-- wrk script for bench/status_polling.py: a logged-in agent's htmx poll of the status fragment.
-- BENCH_COOKIE: the session cookie (BENCH_USER_AGENT: the login's client, as a browser's is); BENCH_ETAG: the fragment's ETag; BENCH_REVALIDATE: the share
-- (0..1) of polls that send If-None-Match with it (a browser revalidating its no-cache copy);
-- BENCH_DELAY_MS: a pause before each poll of a connection (0: back to back), jittered +-20%
-- so the connections do not poll in step. Counts the answers by status for done().
local cookie = os.getenv("BENCH_COOKIE") or ""
local user_agent = os.getenv("BENCH_USER_AGENT") or "wrk"
local etag = os.getenv("BENCH_ETAG") or ""
local revalidate = tonumber(os.getenv("BENCH_REVALIDATE") or "0")
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local count_statuses = os.getenv("BENCH_COUNT_STATUSES") == "1"
local threads = {}
local plain, conditional

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
  local headers = {["HX-Request"] = "true", ["Cookie"] = cookie, ["User-Agent"] = user_agent}
  plain = wrk.format("GET", nil, headers)
  headers["If-None-Match"] = etag
  conditional = wrk.format("GET", nil, headers)
  s200, s304, sother = 0, 0, 0
  if count_statuses then
    response = function(status, headers, body)
      if status == 200 then s200 = s200 + 1 elseif status == 304 then s304 = s304 + 1 else sother = sother + 1 end
    end
  end
end

function request()
  if revalidate >= 1 or (revalidate > 0 and math.random() < revalidate) then
    return conditional
  end
  return plain
end

if pause > 0 then
  function delay()
    return math.floor(pause * (0.8 + 0.4 * math.random()))
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + (thread:get("s200") or 0)
    b = b + (thread:get("s304") or 0)
    c = c + (thread:get("sother") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"s200":%d,"s304":%d,"sother":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), a, b, c))
end
