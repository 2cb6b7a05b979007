-- Shared by the benchmark's wrk scripts (loaded with dofile by each of them):
-- reading a file of lines, counting answers other than the expected status, and
-- the one result line `doorcode-bench` reads back.

-- Set by a script that knows which status every answer must have; when it stays
-- nil the script drops its `response` function, so wrk does not parse answers
-- and counts only statuses above 399 as errors.
expect = nil
unexpected = 0

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  if #lines == 0 then
    error("no lines in " .. path)
  end
  return lines
end

function count_status(status)
  if status ~= expect then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local counted, checked = 0, false
  for _, thread in ipairs(threads) do
    counted = counted + (thread:get("unexpected") or 0)
    checked = checked or thread:get("expect") ~= nil
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"unexpected":%d,"checked":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, e.status, counted, tostring(checked)))
end
