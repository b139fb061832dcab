-- Decides a batch of adds to the usage at KEYS[1] in order, exactly as if each had been
-- sent alone to add.lua: a request is applied only if it keeps usage within its limit.
--
-- KEYS[2]       optional: the key holding the limit, read instead of the requests'
-- ARGV[1]       when KEYS[1] is absent: -1 reports it missing for every request; 0 or
--               more starts it at zero and stores it with that expiration in ms (0 = none)
-- ARGV[2]       n, the number of requests
-- ARGV[3..n+2]  the amount of each request (> 0)
-- then          when there is no KEYS[2]: one limit for every request, or n limits, one
--               per request
--
-- Reply, short so that a large batch costs Redis little more than its arithmetic:
-- {0, usage before, outcomes, limit} with outcomes a string of one character per
-- request, '0' applied or '2' limit exceeded (the usage after each follows from the
-- amounts), and limit the one read from KEYS[2] (-1 without it); {1, limit} when the usage
-- is missing, {4} when the limit is; or {9, value, key} or {10, type, key} when a key
-- holds something that is not a usage (see read in exact.lua, which the Go side puts
-- before this script).

local absent = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local shared = #ARGV == count + 3 and tonumber(ARGV[count + 3])

local cachedLimit
if KEYS[2] then
  local bad
  cachedLimit, bad = read(KEYS[2])
  if cachedLimit == nil then
    return bad
  end
  if not cachedLimit then
    return {4}
  end
  shared = cachedLimit
end

local raw, bad = read(KEYS[1])
if raw == nil then
  return bad
end
if not raw and absent < 0 then
  return {1, cachedLimit or 0}
end

local start = raw or 0
-- The running usage never passes the largest limit (at most 2^53), so it stays exact.
local usage = start
local outcomes = {}
for i = 1, count do
  local amount = tonumber(ARGV[2 + i])
  local limit = shared or tonumber(ARGV[count + 2 + i])
  if usage <= limit - amount then -- not usage + amount <= limit: beyond 2^53 that rounds
    usage = usage + amount
    outcomes[i] = '0'
  else
    outcomes[i] = '2'
  end
end

if raw then
  if usage ~= start then
    redis.call('INCRBY', KEYS[1], usage - start) -- keeps the expiration
  end
elseif usage ~= start then -- nothing is stored for a batch that admitted nothing
  if absent > 0 then
    redis.call('SET', KEYS[1], usage, 'PX', absent)
  else
    redis.call('SET', KEYS[1], usage)
  end
end
return {0, start, table.concat(outcomes), cachedLimit or -1}
