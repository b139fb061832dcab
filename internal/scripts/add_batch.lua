-- Decides a batch of adds to the usage at KEYS[1] in order, exactly as if each had been
-- sent alone to add.lua: a request is applied only if it keeps usage within its limit.
--
-- KEYS[2]       optional: the key holding the limit, read instead of each request's
-- ARGV[1]       when KEYS[1] is absent: -1 reports it missing for every request; 0 or
--               more starts it at zero and stores it with that expiration in ms (0 = none)
-- ARGV[2k]      amount of request k (> 0)
-- ARGV[2k+1]    limit of request k, when there is no KEYS[2]
--
-- Reply: {status, usage, limit} for each request in order, flattened: 0 applied (usage
-- after), 1 usage missing, 2 limit exceeded (usage found), 4 limit missing; or
-- {9, value, key} or {10, type, key} when a key holds something that is not a usage (see
-- read in exact.lua, which the Go side puts before this script).

local absent = tonumber(ARGV[1])
local count = (#ARGV - 1) / 2
local reply = {}

local function every(status, usage, limit)
  for i = 1, count do
    reply[3 * i - 2], reply[3 * i - 1], reply[3 * i] = status, usage, limit
  end
  return reply
end

local cachedLimit
if KEYS[2] then
  local bad
  cachedLimit, bad = read(KEYS[2])
  if cachedLimit == nil then
    return bad
  end
  if not cachedLimit then
    return every(4, 0, 0)
  end
end

local raw, bad = read(KEYS[1])
if raw == nil then
  return bad
end
if not raw and absent < 0 then
  return every(1, 0, cachedLimit or 0)
end

local start = raw or 0
-- The running usage never passes the largest limit (at most 2^53), so it stays exact.
local usage = start
for i = 1, count do
  local amount = tonumber(ARGV[2 * i])
  local limit = cachedLimit or tonumber(ARGV[2 * i + 1])
  if usage <= limit - amount then -- not usage + amount <= limit: beyond 2^53 that rounds
    usage = usage + amount
    reply[3 * i - 2] = 0
  else
    reply[3 * i - 2] = 2
  end
  reply[3 * i - 1] = usage
  reply[3 * i] = limit
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
return reply
