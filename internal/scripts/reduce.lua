-- Subtracts an amount from the usage at KEYS[1] only if the result stays at or above zero.
--
-- The last KEY is the usage's hold buckets, swept (releaseExpiredHolds) once the request is
-- known to be valid.
--
-- ARGV[1]  amount (> 0)
-- ARGV[2]  how long records are kept, in ms; 0: no record, no more keys
-- ARGV[3]  1 (record): KEYS[2] is this reduce's own record, and KEYS[3], if given, the
--          record of the add with the same idempotency key. 2 (undo an add): KEYS[2] is
--          the record of the add this reduce undoes because the add's Next failed.
-- ARGV[4]  the attempt: names the Do this reduce belongs to (see Idempotency.Attempt)
--
-- With an add's record (see add.lua for its format) the reduce is about that add, and its
-- own record is not used:
--   the add was applied   -> take it back (its recorded amount) and mark the record taken
--                            back (11) or, when undoing, undone (12); the add's next try is
--                            a fresh attempt. A usage gone missing took the add with it:
--                            only the record changes, and the reply says missing.
--   refused, taken back   -> nothing to take back: no change, replayed
--   or undone
-- A reduce (not an undo) whose amount is not the add's is refused: {11, the add's amount, key}.
-- Without an add's record, the reduce's own record works as an add's does: a repeat replies
-- the first outcome (applied or below zero) and changes nothing, and one of another amount
-- is refused ({11, the recorded amount, key}). Its record is "status usage attempt
-- amount", status 0 applied, 3 below zero, 12 undone because Next failed (a later Do with
-- the key is a fresh attempt; a late copy of the undone Do's attempt is not).
--
-- Reply {status, usage, 0, replayed}: 0 applied (usage after), 1 missing, 3 below zero
-- (usage found); replayed is 1 when nothing changed because of a record. {9, value, key}
-- or {10, type, key} when a key holds something that is not a usage (see read in
-- exact.lua, which the Go side puts before this script).

local amount = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local undo = ARGV[3] == '2'
local attempt = ARGV[4] or ''
local recordKey, addRecordKey
if retention > 0 then
  loadRecords()
  if undo then
    addRecordKey = KEYS[2]
  elseif #KEYS == 4 then -- the last KEY is the hold buckets
    recordKey, addRecordKey = KEYS[2], KEYS[3]
  else
    recordKey = KEYS[2]
  end
end

-- Records are read with addRecord and reduceRecord (exact.lua): what someone else wrote
-- there is reported, before anything is written.
local add, addBad = false, nil
if addRecordKey then
  add, addBad = addRecord(addRecordKey)
end
if add == nil then
  return addBad
end
local recordedAmount = add and add.amount or amount -- records of older versions have none
if add and not undo and recordedAmount ~= amount then
  return {11, recordedAmount, addRecordKey}
end
-- Without an add's record, the reduce's own record: a refund ID names one refund, so a
-- repeat of another amount is refused too, before anything is written.
local own = false
if recordKey and not add then
  local ownBad
  own, ownBad = reduceRecord(recordKey)
  if own == nil then
    return ownBad
  end
  if own and own.amount and own.amount ~= amount then
    return {11, own.amount, recordKey}
  end
end
-- Only a request known to be valid releases expired holds (holds_release.lua): one of
-- another amount changes nothing.
do
  local bad = releaseExpiredHolds(1)
  if bad then
    return bad
  end
end
if add then
  local state, recordedLimit = add.state, add.limit
  local usage, bad = read(KEYS[1])
  if usage == nil then
    return bad
  end
  if state ~= '0' then
    if not usage then
      return {1, 0, 0, 1}
    end
    return {0, usage, 0, 1}
  end
  if usage then
    if usage < recordedAmount then
      return {3, usage, 0, 0}
    end
    usage = redis.call('DECRBY', KEYS[1], recordedAmount)
  end
  local taken = undo and 12 or 11
  -- The add's attempt stays: a late copy of it must find its add taken back.
  redis.call('SET', addRecordKey, withAttempt(string.format('%d %d %s %d', taken, usage or 0, recordedLimit, recordedAmount), add.attempt), 'PX', retention)
  if not usage then
    return {1, 0, 0, 0}
  end
  return {0, usage, 0, 0}
end
-- An undo whose add's record is gone (expired or evicted) while its Do, which applied the
-- add, undoes it: it has no record of its own (recordKey is nil), so it goes on as a
-- reduce without a record and takes the amount back (writing the add's record anew, as
-- undone: see done), and the add is not left counted under an error that says it failed.

if own and own.status ~= 12 then
  return {own.status, own.usage, 0, 1}
end
if own and lateCopy(own, attempt) then
  return {0, own.usage, 0, 1} -- its Do was undone
end

local function done(status, usage)
  if recordKey and (status == 0 or status == 3) then
    redis.call('SET', recordKey, withAmount(withAttempt(string.format('%d %d', status, usage), attempt), attempt, amount), 'PX', retention)
  end
  if undo and addRecordKey and status == 0 then
    -- The undo of an add whose record is gone: written anew, undone (12, no limit known),
    -- so that a resend of this undo (its reply lost) replays instead of taking back again.
    redis.call('SET', addRecordKey, withAttempt(string.format('12 %d 0 %d', usage, amount), attempt), 'PX', retention)
  end
  return {status, usage, 0, 0}
end

local usage, bad = read(KEYS[1])
if usage == nil then
  return bad
end
if not usage then
  return {1, 0, 0, 0}
end
if usage < amount then
  return done(3, usage)
end
-- DECRBY keeps the key's expiration.
return done(0, redis.call('DECRBY', KEYS[1], amount))
