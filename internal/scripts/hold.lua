-- Holds: quota reserved now and committed or cancelled later (see andromeda's QuotaHolds).
-- The usage at KEYS[1] counts committed usage plus active holds, so every other script
-- sees held quota as used. A hold not committed or cancelled by its expiry is released by
-- whichever of these scripts runs next on the quota: no background process is needed.
--
-- KEYS[1]  usage
-- KEYS[2]  active holds: sorted set of hold IDs by expiry (ms)
-- KEYS[3]  amounts of the active holds: hash of hold ID to amount
-- KEYS[4]  closed holds: hash of hold ID to "committed", "cancelled" or "expired"
-- KEYS[5]  when to forget each closed hold: sorted set of hold IDs by time (ms)
--
-- ARGV[1]  "reserve", "commit" or "cancel"
-- ARGV[2]  hold ID
-- ARGV[3]  amount (reserve)
-- ARGV[4]  limit (reserve)
-- ARGV[5]  how long the hold lasts, in ms (reserve)
-- ARGV[6]  how long a closed hold is remembered, in ms
-- ARGV[7]  when the usage is absent: -1 reports it missing; 0 or more starts it at zero
--          with that expiration in ms (reserve)
--
-- Reply {status, usage, 0, replayed}: 0 done, 1 usage missing, 2 limit exceeded (usage found),
-- 5 the hold expired, 6 it was cancelled, 7 there is no such hold, 8 it was committed;
-- replayed is 1 when nothing changed because the request had been done already.
-- {9, the stored value} when the usage is not an integer.
-- exact(raw) comes from exact.lua, which the Go side puts before this script.

local usageKey, holdsKey, amountsKey, closedKey, forgetKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, id = ARGV[1], ARGV[2]
local retention = tonumber(ARGV[6])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local function close(holdID, state)
  redis.call('HSET', closedKey, holdID, state)
  redis.call('ZADD', forgetKey, now + retention, holdID)
end

local raw = redis.call('GET', usageKey)
if raw and not exact(raw) then
  return {9, raw}
end

-- Holds were counted in the usage: when the usage is gone, they are gone with it.
if not raw then
  for _, holdID in ipairs(redis.call('ZRANGE', holdsKey, 0, -1)) do
    close(holdID, 'expired')
  end
  redis.call('DEL', holdsKey, amountsKey)
end

-- Release the holds that have expired, and forget long-closed ones.
for _, holdID in ipairs(redis.call('ZRANGEBYSCORE', holdsKey, '-inf', now, 'LIMIT', 0, 100)) do
  local amount = tonumber(redis.call('HGET', amountsKey, holdID) or '0')
  if raw then
    -- Never below zero, even if a plain reduce already gave some of it back.
    raw = tostring(redis.call('DECRBY', usageKey, math.min(amount, tonumber(raw))))
  end
  redis.call('ZREM', holdsKey, holdID)
  redis.call('HDEL', amountsKey, holdID)
  close(holdID, 'expired')
end
for _, holdID in ipairs(redis.call('ZRANGEBYSCORE', forgetKey, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('HDEL', closedKey, holdID)
  redis.call('ZREM', forgetKey, holdID)
end

local usage = tonumber(raw or '0')
local active = redis.call('ZSCORE', holdsKey, id)
local closed = redis.call('HGET', closedKey, id)
local codes = {expired = 5, cancelled = 6, committed = 8}

if mode == 'reserve' then
  if active then
    return {0, usage, 0, 1}
  end
  if closed then
    return {codes[closed], usage, 0, 1}
  end
  local absent = tonumber(ARGV[7])
  if not raw and absent < 0 then
    return {1, 0, 0, 0}
  end
  local amount, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
  if usage + amount > limit then
    return {2, usage, 0, 0}
  end
  if raw then
    usage = redis.call('INCRBY', usageKey, amount)
  else
    usage = amount
    if absent > 0 then
      redis.call('SET', usageKey, usage, 'PX', absent)
    else
      redis.call('SET', usageKey, usage)
    end
  end
  redis.call('ZADD', holdsKey, now + tonumber(ARGV[5]), id)
  redis.call('HSET', amountsKey, id, amount)
  -- The holds live no longer than the usage that counts them.
  local ttl = redis.call('PTTL', usageKey)
  for _, key in ipairs({holdsKey, amountsKey, closedKey, forgetKey}) do
    if ttl > 0 then
      redis.call('PEXPIRE', key, ttl)
    else
      redis.call('PERSIST', key)
    end
  end
  return {0, usage, 0, 0}
end

if mode == 'commit' then
  if active then
    redis.call('ZREM', holdsKey, id)
    redis.call('HDEL', amountsKey, id)
    close(id, 'committed')
    return {0, usage, 0, 0}
  end
  if closed == 'committed' then
    return {0, usage, 0, 1}
  end
  return {codes[closed] or 7, usage, 0, 0}
end

-- cancel
if active then
  local amount = tonumber(redis.call('HGET', amountsKey, id) or '0')
  if raw then
    usage = redis.call('DECRBY', usageKey, math.min(amount, usage))
  end
  redis.call('ZREM', holdsKey, id)
  redis.call('HDEL', amountsKey, id)
  close(id, 'cancelled')
  return {0, usage, 0, 0}
end
if closed == 'committed' then
  return {8, usage, 0, 0}
end
return {0, usage, 0, 1} -- cancelled, expired or never held: nothing is held
