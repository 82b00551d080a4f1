-- wrk script for bench/queue.py: producers post new messages (priorities 0-10) to the stream.
-- Usage: wrk -s bench/queue_producers.lua <url> -- <producer API token>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  headers = { ["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json" }
  posted, failures, sequence = 0, 0, 0
end

function request()
  sequence = sequence + 1
  local body = string.format('{"text":"Produced question %d: what is new?","priority":%d}', sequence, sequence % 11)
  return wrk.format("POST", "/api/queue/messages", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    posted = posted + 1
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local posted_total, failures_total = 0, 0
  for _, thread in ipairs(threads) do
    posted_total = posted_total + thread:get("posted")
    failures_total = failures_total + thread:get("failures")
  end
  io.write(string.format('BENCH {"posted":%d,"failures":%d}\n', posted_total, failures_total))
end
