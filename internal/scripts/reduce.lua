-- Subtracts an amount from the usage at KEYS[1] only if the result stays at or above zero.
--
-- ARGV[1] amount (> 0)
--
-- Reply {status, usage}: 0 applied (usage after), 1 missing, 3 below zero
-- (usage found), 9 not an integer ({9, the stored value}).
local amount = tonumber(ARGV[1])

local raw = redis.call('GET', KEYS[1])
if not raw then
  return {1, 0}
end
if not string.match(raw, '^%-?%d+$') then
  return {9, raw}
end
local usage = tonumber(raw)
if usage - amount < 0 then
  return {3, usage}
end
-- DECRBY keeps the key's expiration.
return {0, redis.call('DECRBY', KEYS[1], amount)}
