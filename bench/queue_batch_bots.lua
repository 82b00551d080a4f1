-- wrk script for bench/queue.py's batched leg: each wrk thread is one bot (worker id
-- <prefix>-<n>) whose connections claim up to <batch> messages (POST /api/queue/claims with a
-- limit), then hand every batch in with POST /api/queue/completions, a reply for each claim and
-- next=<batch>, which completes them and claims the next batch in the same request
-- ({"completed": {"results": [per claim]}, "next": {"results": [new claims]}}).
-- Usage: wrk -s bench/queue_batch_bots.lua <url> -- <bot API token> <worker id prefix> <batch>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
end

function init(args)
  worker = args[2] .. "-" .. number
  batch = tonumber(args[3])
  headers = { ["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json" }
  claim_body = string.format('{"worker_id":"%s","limit":%d}', worker, batch)
  held = {}        -- batches this bot holds, each a list of {id, token}
  claimed, completed, empty, conflicts, failures, requests = 0, 0, 0, 0, 0, 0
end

function request()
  requests = requests + 1
  local claims = table.remove(held)
  if claims then
    local items = {}
    for i, claim in ipairs(claims) do
      items[i] = string.format('{"id":"%s","claim_token":"%s","reply":"On it: here is the answer."}', claim[1], claim[2])
    end
    local body = string.format('{"worker_id":"%s","claims":[%s],"next":%d}', worker, table.concat(items, ","), batch)
    return wrk.format("POST", "/api/queue/completions", headers, body)
  end
  return wrk.format("POST", "/api/queue/claims", headers, claim_body)
end

-- Claimed messages are the only objects with a claim_token; a message's fields hold no braces.
local function hold(body, from)
  local claims = {}
  for id, token in string.gmatch(string.sub(body, from), '{"id":"(%w+)",[^{}]-"claim_token":"([%w_%-]+)"') do
    table.insert(claims, { id, token })
  end
  if #claims > 0 then
    claimed = claimed + #claims
    table.insert(held, claims)
  else
    empty = empty + 1
  end
end

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    return
  end
  local next_at = string.find(body, '"next":{"results":[', 1, true)
  if next_at then  -- a completion: per-claim results, then the next claims
    local _, done = string.gsub(string.sub(body, 1, next_at), '"status":200', "")
    local _, refused = string.gsub(string.sub(body, 1, next_at), '"status":409', "")
    completed = completed + done
    conflicts = conflicts + refused
    hold(body, next_at)
  else
    hold(body, 1)
  end
end

function done(summary, latency, requests)
  local totals = { claimed = 0, completed = 0, empty = 0, conflicts = 0, failures = 0, requests = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
  end
  io.write(string.format('BENCH {"claimed":%d,"completed":%d,"empty":%d,"conflicts":%d,"failures":%d,"requests":%d}\n',
    totals.claimed, totals.completed, totals.empty, totals.conflicts, totals.failures, totals.requests))
end
