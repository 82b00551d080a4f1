-- wrk script for bench/queue.py: each wrk thread is one bot (worker id <prefix>-<n>) whose
-- connections claim the next message (POST /api/queue/claims) and answer every claim with
-- POST /api/queue/messages/<id>/complete + next=true.
-- Usage: wrk -s bench/queue_bots.lua <url> -- <bot API token> <worker id prefix>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
end

function init(args)
  worker = args[2] .. "-" .. number
  headers = { ["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json" }
  claim_body = '{"worker_id":"' .. worker .. '"}'
  held = {}        -- claims this bot holds: {id, token}
  claimed, completed, empty, conflicts, failures = 0, 0, 0, 0, 0
end

function request()
  local claim = table.remove(held)
  if claim then
    local body = string.format(
      '{"worker_id":"%s","claim_token":"%s","reply":"On it: here is the answer.","next":true}', worker, claim[2])
    return wrk.format("POST", "/api/queue/messages/" .. claim[1] .. "/complete", headers, body)
  end
  return wrk.format("POST", "/api/queue/claims", headers, claim_body)
end

local function hold(body, from)
  local id = string.match(body, '^"id":"([%w]+)"', from)
  local token = string.match(body, '"claim_token":"([%w_%-]+)"', from)
  if id and token then
    claimed = claimed + 1
    table.insert(held, { id, token })
  end
end

function response(status, headers, body)
  if status == 204 then
    empty = empty + 1
  elseif status == 409 then
    conflicts = conflicts + 1
  elseif status ~= 200 and status ~= 201 then
    failures = failures + 1
  elseif string.sub(body, 1, 11) == '{"message":' then
    completed = completed + 1
    local next_at = string.find(body, '"next":{', 1, true)
    if next_at then
      hold(body, next_at + 8)
    else
      empty = empty + 1
    end
  else
    hold(body, 2)
  end
end

function done(summary, latency, requests)
  local totals = { claimed = 0, completed = 0, empty = 0, conflicts = 0, failures = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  io.write(string.format('BENCH {"claimed":%d,"completed":%d,"empty":%d,"conflicts":%d,"failures":%d}\n',
    totals.claimed, totals.completed, totals.empty, totals.conflicts, totals.failures))
end
