-- Decides a batch of adds to the usage at KEYS[1] in order, exactly as if each had been
-- sent alone to add.lua: a request is applied only if it keeps usage within its limit.
--
-- ARGV[1]       when KEYS[1] is absent: -1 reports it missing for every request; 0 or
--               more starts it at zero and stores it with that expiration in ms (0 = none)
-- ARGV[2k]      amount of request k (> 0)
-- ARGV[2k+1]    limit of request k
--
-- Reply: {status, usage} for each request in order, flattened: 0 applied (usage after),
-- 1 missing, 2 limit exceeded (usage found); or {9, the stored value} when that value
-- is not an integer.
local absent = tonumber(ARGV[1])
local count = (#ARGV - 1) / 2
local reply = {}

local raw = redis.call('GET', KEYS[1])
if not raw and absent < 0 then
  for i = 1, count do
    reply[2 * i - 1] = 1
    reply[2 * i] = 0
  end
  return reply
end
if raw and not string.match(raw, '^%-?%d+$') then
  return {9, raw}
end

local start = tonumber(raw or '0')
local usage = start
for i = 1, count do
  local amount = tonumber(ARGV[2 * i])
  if usage + amount <= tonumber(ARGV[2 * i + 1]) then
    usage = usage + amount
    reply[2 * i - 1] = 0
  else
    reply[2 * i - 1] = 2
  end
  reply[2 * i] = usage
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
