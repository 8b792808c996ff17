-- One benchmark scenario for wrk: a fixed request, or a body made unique per request.
-- Arguments (after --): METHOD BODY_FILE|- CONTENT_TYPE EXPECTED_STATUS UNIQUE(yes|no)
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = args[1]
  if args[2] ~= "-" then
    local file = assert(io.open(args[2], "rb"))
    template = file:read("*a")
    file:close()
    wrk.headers["Content-Type"] = args[3]
  end
  expected = tonumber(args[4])
  unique = args[5] == "yes"
  -- A prefix per thread and run keeps "new buyer" bodies new across runs.
  prefix = tostring(os.time()) .. tostring(math.random(100000, 999999))
  counter = 0
  unexpected = 0
end

function request()
  if template == nil then
    return wrk.format()
  end
  local body = template
  if unique then
    counter = counter + 1
    body = body:gsub("__UNIQUE__", prefix .. "x" .. counter)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do
    wrong = wrong + (thread:get("unexpected") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"unexpected_status": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), wrong,
    errors.connect + errors.read + errors.write + errors.timeout))
end
