-- Adds one amount to the usage of several quotas, all or nothing: only if every usage
-- stays within its limit. The keys must share a Redis Cluster hash slot.
--
-- KEYS[i]       usage key of quota i
-- ARGV[1]       amount (> 0)
-- ARGV[2i]      limit of quota i
-- ARGV[2i+1]    when KEYS[i] is absent: -1 reports it missing; 0 or more starts it at
--               zero with that expiration in milliseconds (0 = none)
--
-- Reply {status, i, usage_1 .. usage_n}: 0 applied (usages after); 1 usage of quota i
-- missing; 2 quota i would pass its limit (usage_i is the usage found); {9, i, value} or
-- {10, i, type} when KEYS[i] holds something that is not a usage (see read in exact.lua,
-- which the Go side puts before this script).

local amount = tonumber(ARGV[1])
local usages = {}
local absent = {}
for i = 1, #KEYS do
  local usage, bad = read(KEYS[i])
  if usage == nil then
    return {bad[1], i, bad[2]}
  end
  if usage then
    usages[i] = usage
  elseif tonumber(ARGV[2 * i + 1]) < 0 then
    return {1, i}
  else
    usages[i] = 0
    absent[i] = true
  end
end

for i = 1, #KEYS do
  if usages[i] > tonumber(ARGV[2 * i]) - amount then -- exact, unlike usage + amount beyond 2^53
    local reply = {2, i}
    for j = 1, #KEYS do
      reply[j + 2] = usages[j]
    end
    return reply
  end
end

local reply = {0, 0}
for i = 1, #KEYS do
  if absent[i] then
    local ttl = tonumber(ARGV[2 * i + 1])
    if ttl > 0 then
      redis.call('SET', KEYS[i], amount, 'PX', ttl)
    else
      redis.call('SET', KEYS[i], amount)
    end
    reply[i + 2] = amount
  else
    reply[i + 2] = redis.call('INCRBY', KEYS[i], amount)
  end
end
return reply
