-- wrk script for bench/webhook_ingest.py: each POST carries BENCH_BATCH ack events, numbered
-- across wrk's threads so that no two requests repeat an event (see event() in the .py).
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local prefix = os.getenv("BENCH_PREFIX") or "wamid.BENCH"
local window = tonumber(os.getenv("BENCH_WINDOW") or "1000")
local capacity = tonumber(os.getenv("BENCH_CAPACITY") or "0")
local threads_total = tonumber(os.getenv("BENCH_THREADS") or "1")
local statuses = {"sent", "delivered", "read"}
local counter = 0
local created = 0

function setup(thread)
  thread:set("thread_index", created)
  created = created + 1
end

local function ack(j)
  if capacity > 0 then j = j % capacity end
  local block = math.floor(j / (3 * window))
  local k = j % (3 * window)
  local message = block * window + k % window
  return string.format('{"id":"%s%07d","status":"%s","chatId":"14155562000@c.us","phone":"14155562000"}',
                       prefix, message, statuses[math.floor(k / window) + 1])
end

-- Once this thread's next POST would repeat events (every handoff made for the run has had its
-- acks), it stops at the next answer, as the Python client does: repeats are work for the applier
-- that no handoff shows, and counting only the first capacity events would understate its rate.
local used_up = false

function request()
  local post = counter * threads_total + (thread_index or 0)
  counter = counter + 1
  if capacity > 0 and (post + 1) * batch > capacity then used_up = true end
  local acks = {}
  for k = 0, batch - 1 do
    acks[#acks + 1] = ack(post * batch + k)
  end
  local body = '{"instanceId":"100000","ack":[' .. table.concat(acks, ",") .. ']}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if used_up then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
