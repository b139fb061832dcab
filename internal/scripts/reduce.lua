-- Subtracts an amount from the usage at KEYS[1] only if the result stays at or above zero.
--
-- KEYS[2]  optional: an idempotency record (see ARGV[3])
-- ARGV[1]  amount (> 0)
-- ARGV[2]  how long the record is kept, in ms; 0: no record
-- ARGV[3]  1 (record): if the record exists, reply with the outcome it holds and change
--          nothing; otherwise record this outcome. 2 (forget): this reduce takes back an
--          add the record is for: apply it only if the record exists, and delete it.
--
-- Reply {status, usage, 0, replayed}: 0 applied (usage after), 1 missing, 3 below zero
-- (usage found); replayed is 1 when the outcome comes from the record.
-- {9, the stored value} when the value is not an integer.
-- exact(raw) comes from exact.lua, which the Go side puts before this script.

local amount = tonumber(ARGV[1])
local recordKey
if tonumber(ARGV[2]) > 0 then
  recordKey = KEYS[2]
end

if recordKey and ARGV[3] == '2' then
  if redis.call('DEL', recordKey) == 0 then
    return {0, 0, 0, 1} -- already taken back, or never added
  end
elseif recordKey then
  local record = redis.call('GET', recordKey)
  if record then
    local status, usage = string.match(record, '^(%d+) (%-?%d+)$')
    if not status then
      return {9, record}
    end
    return {tonumber(status), tonumber(usage), 0, 1}
  end
end

local function done(status, usage)
  if recordKey and ARGV[3] == '1' and (status == 0 or status == 3) then
    redis.call('SET', recordKey, string.format('%d %d', status, usage), 'PX', ARGV[2])
  end
  return {status, usage, 0, 0}
end

local raw = redis.call('GET', KEYS[1])
if not raw then
  return {1, 0, 0, 0}
end
if not exact(raw) then
  return {9, raw}
end
local usage = tonumber(raw)
if usage - amount < 0 then
  return done(3, usage)
end
-- DECRBY keeps the key's expiration.
return done(0, redis.call('DECRBY', KEYS[1], amount))
