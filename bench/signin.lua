-- wrk script of the sign-in benchmark (bench/signin.py): every request signs a real pupil
-- in through POST /connexion/, rotating over the identifiers listed in a file.
--   wrk -s bench/signin.lua URL -- IDS_FILE CSRF_TOKEN CSRF_COOKIE PASSWORD
-- A success is a 302 to /mes-services/; anything else is counted as "bad" and reported.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

local ids = {}
local idx = 0
local token, password
bad = 0
first_bad = ""

local function urlencode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  token = args[2]
  password = urlencode(args[4])
  -- Threads start at different places of the list.
  idx = ((thread_no or 1) - 1) * math.floor(#ids / 8)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Cookie"] = "csrftoken=" .. args[3]
end

function request()
  idx = idx % #ids + 1
  local body = "csrfmiddlewaretoken=" .. token .. "&username=" .. ids[idx]
    .. "&password=" .. password
  return wrk.format("POST", "/connexion/", nil, body)
end

function response(status, headers, body)
  local location = headers["Location"] or headers["location"] or ""
  if status ~= 302 or not string.find(location, "/mes%-services/") then
    bad = bad + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. location end
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  local example = ""
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
    local fb = thread:get("first_bad") or ""
    if example == "" then example = fb end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d mean_us=%d max_us=%d "
      .. "bad=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, total_bad,
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write("BENCH_FIRST_BAD " .. example .. "\n")
end
