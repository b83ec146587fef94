-- Replay pre-built HTTP requests for a fixed window, then drain: used by bench/http_load.py.
--
--   wrk -t T -c C -d <window + drain>s -s bench/wrk/replay.lua URL -- FILE T MODE WINDOW CONNS_PER_THREAD
--
-- FILE holds one request per line: METHOD \t PATH \t HEADERS \t BODY, HEADERS as
-- "Name: value" pairs joined by "\x1f" (empty for none). MODE "shared": every thread cycles
-- through all requests (each from its own starting point); "disjoint": thread i sends only the
-- lines i, i+T, i+2T, ... so no request is ever sent twice (claim approvals) until a thread runs
-- out, after which it cycles.
--
-- Each thread sends requests for WINDOW seconds (a monotonic clock through LuaJIT's FFI), then
-- stops sending and lets the answers in flight arrive; once all of its connections are quiet it
-- stops itself. So every request that reached the server has its answer counted, and the write
-- checks can compare rows with answers. "drained" is false when wrk's -d cut a thread off first.
-- "sent" counts request() calls: wrk calls it again when a write had to be retried.
--
-- The last line printed is "JSON {...}": answers inside the window, the window, status counts
-- over every answer, latency percentiles in microseconds, and socket errors.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function split(text, sep)
  local out, start = {}, 1
  while true do
    local i = string.find(text, sep, start, true)
    if not i then
      table.insert(out, string.sub(text, start))
      return out
    end
    table.insert(out, string.sub(text, start, i - 1))
    start = i + #sep
  end
end

function init(args)
  local file, nthreads, mode = args[1], tonumber(args[2]), args[3]
  window = tonumber(args[4])
  conns = tonumber(args[5])
  idle = 0
  reqs = {}
  local n = 0
  for line in io.lines(file) do
    if line ~= "" then
      n = n + 1
      if mode ~= "disjoint" or (n - 1) % nthreads == tid then
        local f = split(line, "\t")
        local headers = {}
        if f[3] and f[3] ~= "" then
          for _, h in ipairs(split(f[3], "\31")) do
            local k, v = string.match(h, "^([^:]+):%s*(.*)$")
            if k then headers[k] = v end
          end
        end
        local body = f[4]
        if body == "" then body = nil end
        table.insert(reqs, wrk.format(f[1], f[2], headers, body))
      end
    end
  end
  idx = 1
  if mode ~= "disjoint" and #reqs > 0 then
    idx = (tid * 7919) % #reqs + 1
  end
  counts = {}
  sent, answered, in_window = 0, 0, 0
  started, deadline = nil, nil
  draining = false
end

function delay()
  if started and now() >= deadline then
    -- This connection has its answer and goes quiet; the thread stops once all of its
    -- connections have, so every request sent was answered (or failed as an error).
    draining = true
    idle = idle + 1
    if idle >= conns then
      wrk.thread:stop()
    end
    return 3600000
  end
  return 0
end

function request()
  if not started then
    started = now()
    deadline = started + window
  end
  local r = reqs[idx]
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  sent = sent + 1
  return r
end

function response(status, headers, body)
  answered = answered + 1
  local k = tostring(status)
  counts[k] = (counts[k] or 0) + 1
  if now() < deadline then
    in_window = in_window + 1
  end
end

function done(summary, latency, requests)
  local agg, total_sent, total_answered, total_in_window = {}, 0, 0, 0
  local drained = true
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts") or {}) do
      agg[k] = (agg[k] or 0) + v
    end
    if (t:get("idle") or 0) < (t:get("conns") or 1) then
      drained = false
    end
    total_sent = total_sent + (t:get("sent") or 0)
    total_answered = total_answered + (t:get("answered") or 0)
    total_in_window = total_in_window + (t:get("in_window") or 0)
  end
  local parts = {}
  for k, v in pairs(agg) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  local window_s = threads[1] and threads[1]:get("window") or 0
  local e = summary.errors
  io.write(string.format(
    'JSON {"in_window":%d,"window_s":%s,"sent":%d,"answered":%d,"status":{%s},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"drained":%s}\n',
    total_in_window, tostring(window_s), total_sent, total_answered, table.concat(parts, ","),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, tostring(drained)))
end
