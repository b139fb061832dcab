-- Adds an amount to the usage at KEYS[1] only if the result stays within the limit.
-- Checking before changing means usage is never counted above the limit, not even for a moment.
--
-- KEYS[1]  the usage
-- then, when ARGV[4] is 1, the key holding the limit, read instead of ARGV[2]
-- then, when ARGV[5] > 0, an idempotency record (see ARGV[6])
--
-- ARGV[1]  amount (> 0)
-- ARGV[2]  limit
-- ARGV[3]  when the usage is absent: -1 reports it missing; 0 or more starts it at zero
--          and stores the result with that expiration in milliseconds (0 = none)
-- ARGV[4]  1 if a limit key follows
-- ARGV[5]  how long the record is kept, in ms; 0: no record
-- ARGV[6]  1 (record): if the record exists, reply with the outcome it holds and change
--          nothing; otherwise record this outcome. 2 (forget): this add puts back a reduce
--          the record is for: apply it only if the record exists, with no limit, and
--          delete the record.
--
-- Reply {status, usage, limit, replayed}: 0 applied (usage after), 1 usage missing,
-- 2 limit exceeded (usage found), 4 limit missing; replayed is 1 when the outcome comes
-- from the record. {9, the stored value} when a value is not an integer.
-- exact(raw) comes from exact.lua, which the Go side puts before this script.

local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local absent = tonumber(ARGV[3])
local nextKey = 2
local limitKey, recordKey
if ARGV[4] == '1' then
  limitKey = KEYS[nextKey]
  nextKey = nextKey + 1
end
if tonumber(ARGV[5]) > 0 then
  recordKey = KEYS[nextKey]
end

if recordKey and ARGV[6] == '2' then
  if redis.call('DEL', recordKey) == 0 then
    return {0, 0, 0, 1} -- already put back, or never taken
  end
  local raw = redis.call('GET', KEYS[1])
  if not raw then
    return {1, 0, 0, 0}
  end
  return {0, redis.call('INCRBY', KEYS[1], amount), 0, 0}
end
if recordKey then
  local record = redis.call('GET', recordKey)
  if record then
    local status, usage, recordedLimit = string.match(record, '^(%d+) (%-?%d+) (%-?%d+)$')
    if not status then
      return {9, record}
    end
    return {tonumber(status), tonumber(usage), tonumber(recordedLimit), 1}
  end
end

local function done(status, usage)
  if recordKey and (status == 0 or status == 2) then
    -- %d, not concatenation: Lua would write a large number as 9.007199254741e+15.
    redis.call('SET', recordKey, string.format('%d %d %d', status, usage, limit), 'PX', ARGV[5])
  end
  return {status, usage, limit, 0}
end

if limitKey then
  local rawLimit = redis.call('GET', limitKey)
  if not rawLimit then
    return {4, 0, 0, 0}
  end
  if not exact(rawLimit) then
    return {9, rawLimit}
  end
  limit = tonumber(rawLimit)
end

local raw = redis.call('GET', KEYS[1])
if not raw then
  if absent < 0 then
    return {1, 0, limit, 0}
  end
  if amount > limit then
    return done(2, 0)
  end
  if absent > 0 then
    redis.call('SET', KEYS[1], amount, 'PX', absent)
  else
    redis.call('SET', KEYS[1], amount)
  end
  return done(0, amount)
end

if not exact(raw) then
  return {9, raw}
end
local usage = tonumber(raw)
if usage + amount > limit then
  return done(2, usage)
end
-- INCRBY keeps the key's expiration and does exact 64-bit arithmetic.
return done(0, redis.call('INCRBY', KEYS[1], amount))
