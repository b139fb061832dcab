-- Subtracts one amount from the usage of several quotas, all or nothing: only if every
-- usage stays at or above zero. The keys must share a Redis Cluster hash slot.
--
-- KEYS[i]   usage key of quota i
-- ARGV[1]   amount (> 0)
--
-- Reply {status, i, usage_1 .. usage_n}: 0 applied (usages after); 1 usage of quota i
-- missing; 3 quota i would go below zero (usage_i is the usage found); {9, i, value} or
-- {10, i, type} when KEYS[i] holds something that is not a usage (see read in exact.lua,
-- which the Go side puts before this script).

local amount = tonumber(ARGV[1])
local usages = {}
for i = 1, #KEYS do
  local usage, bad = read(KEYS[i])
  if usage == nil then
    return {bad[1], i, bad[2]}
  end
  if not usage then
    return {1, i}
  end
  usages[i] = usage
end

for i = 1, #KEYS do
  if usages[i] < amount then
    local reply = {3, i}
    for j = 1, #KEYS do
      reply[j + 2] = usages[j]
    end
    return reply
  end
end

local reply = {0, 0}
for i = 1, #KEYS do
  reply[i + 2] = redis.call('DECRBY', KEYS[i], amount)
end
return reply
