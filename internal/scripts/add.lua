-- Adds an amount to the usage at KEYS[1] only if the result stays within the limit.
-- Checking before changing means usage is never counted above the limit, not even for a moment.
--
-- KEYS[2]  optional: the key holding the limit, read instead of ARGV[2]
-- ARGV[1]  amount (> 0)
-- ARGV[2]  limit, when there is no KEYS[2]
-- ARGV[3]  when KEYS[1] is absent: -1 reports it missing; 0 or more starts it at zero
--          and stores the result with that expiration in milliseconds (0 = none).
--
-- Reply {status, usage, limit}: 0 applied (usage after), 1 usage missing, 2 limit
-- exceeded (usage found), 4 limit missing; {9, the stored value} when a value is not an
-- integer.
local amount = tonumber(ARGV[1])
local absent = tonumber(ARGV[3])

local limit = tonumber(ARGV[2])
if KEYS[2] then
  local rawLimit = redis.call('GET', KEYS[2])
  if not rawLimit then
    return {4, 0, 0}
  end
  if not string.match(rawLimit, '^%-?%d+$') then
    return {9, rawLimit}
  end
  limit = tonumber(rawLimit)
end

local raw = redis.call('GET', KEYS[1])
if not raw then
  if absent < 0 then
    return {1, 0, limit}
  end
  if amount > limit then
    return {2, 0, limit}
  end
  if absent > 0 then
    redis.call('SET', KEYS[1], amount, 'PX', absent)
  else
    redis.call('SET', KEYS[1], amount)
  end
  return {0, amount, limit}
end

if not string.match(raw, '^%-?%d+$') then
  return {9, raw}
end
local usage = tonumber(raw)
if usage + amount > limit then
  return {2, usage, limit}
end
-- INCRBY keeps the key's expiration and does exact 64-bit arithmetic.
return {0, redis.call('INCRBY', KEYS[1], amount), limit}
