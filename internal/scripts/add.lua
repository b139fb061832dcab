-- Adds an amount to the usage at KEYS[1] only if the result stays within the limit.
-- Checking before changing means usage is never counted above the limit, not even for a moment.
--
-- KEYS[1]  the usage
-- then, when ARGV[4] is 1, the key holding the limit, read instead of ARGV[2]
-- then, when ARGV[5] > 0, an idempotency record (see ARGV[6])
-- then, optionally, when ARGV[6] is 2: the record of the add with the same idempotency key
-- last, the usage's hold buckets, swept (releaseExpiredHolds) once the request is known
-- to be valid
--
-- ARGV[1]  amount (> 0)
-- ARGV[2]  limit
-- ARGV[3]  when the usage is absent: -1 reports it missing; 0 or more starts it at zero
--          and stores the result with that expiration in milliseconds (0 = none)
-- ARGV[4]  1 if a limit key follows
-- ARGV[5]  how long the record is kept, in ms; 0: no record
-- ARGV[7]  the attempt: names the Do this add belongs to (see Idempotency.Attempt)
-- ARGV[6]  1 (record): the record is this add's. If it holds an outcome (applied or
--          refused), reply with it and change nothing; if it is absent, or says the add was
--          taken back (by a reduce with the same key, or because Next failed), this is a
--          fresh attempt, recorded; unless the record was written for this very Do (same
--          attempt): then this is a late copy of an attempt of a Do that is over, and
--          changes nothing. 2 (put back): this add puts back a reduce whose Next
--          failed. If that reduce took back the add recorded under the same key, the add
--          is applied again; otherwise the record is the reduce's own, and the reduce is put
--          back only while that record says it was applied, and the record then says
--          undone (12), so a late copy of the reduce changes nothing. Either way within
--          ARGV[2], the bound the Go side sets (see putBackLimit): a put-back
--          whose freed units others took since is refused (2), never oversold.
--
-- An add's record is "state usage limit amount attempt": state 0 applied, 2 refused, 11
-- taken back by a reduce with the same key, 12 undone because Next failed (see
-- reduce.lua); attempt is the Do that applied it.
--
-- Reply {status, usage, limit, replayed}: 0 applied (usage after), 1 usage missing,
-- 2 limit exceeded (usage found), 4 limit missing; replayed is 1 when the outcome comes
-- from the record. {11, the recorded amount, record key}: the record is of an add of
-- another amount (an idempotency key names one request); nothing changes. {9, value, key} or {10, type, key} when a key holds something that is
-- not a usage (see read in exact.lua, which the Go side puts before this script).

local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local absent = tonumber(ARGV[3])
local retention = tonumber(ARGV[5])
local attempt = ARGV[7] or ''
local nextKey = 2
local limitKey, recordKey, addRecordKey
if ARGV[4] == '1' then
  limitKey = KEYS[nextKey]
  nextKey = nextKey + 1
end
if retention > 0 then
  recordKey = KEYS[nextKey]
  if #KEYS == nextKey + 2 then -- the last KEY is the hold buckets
    addRecordKey = KEYS[nextKey + 1]
  end
end
-- A fresh claim (the common case) finds no record: its add reads the record key once and
-- writes it at the end, without defining the record helpers, which cost every call that
-- defines them. Only a record found, or a put-back, needs them.
local found = false
if recordKey and ARGV[6] ~= '2' then
  found = redis.pcall('GET', recordKey) -- a string, an error reply (another type), or false
end
if found or (recordKey and ARGV[6] == '2') then
  loadRecords()
end
-- A record found is read before anything is written: what someone else wrote there is
-- reported, and a repeat of another amount is refused (11), changing nothing.
local record = false
if found then
  local bad
  record, bad = addRecord(recordKey)
  if record == nil then
    return bad
  end
  if record.amount and record.amount ~= amount then -- records of older versions have none
    return {11, record.amount, recordKey}
  end
end
-- Only then are expired holds released (holds_release.lua).
do
  local bad = releaseExpiredHolds(1)
  if bad then
    return bad
  end
end

-- Records are read with addRecord and reduceRecord (exact.lua): what someone else wrote
-- there is reported, before anything is written.

if recordKey and ARGV[6] == '2' then
  local record, bad = false, nil
  if addRecordKey then
    record, bad = addRecord(addRecordKey)
  end
  if record == nil then
    return bad
  end
  if record then
    -- The reduce found this add's record: it took the add back (state 11) or changed nothing.
    if record.state ~= '11' then
      return {0, 0, 0, 1}
    end
    local recordedLimit = record.limit
    amount = record.amount or amount
    local usage, bad = read(KEYS[1])
    if usage == nil then
      return bad
    end
    if usage then
      if usage > limit - amount then
        return {2, usage, limit, 0}
      end
      usage = redis.call('INCRBY', KEYS[1], amount)
    end
    -- A usage gone missing took the reduce with it: the add counts again either way.
    redis.call('SET', addRecordKey, withAttempt(string.format('0 %d %s %d', usage or 0, recordedLimit, amount), record.attempt), 'PX', retention)
    if not usage then
      return {1, 0, 0, 0}
    end
    return {0, usage, 0, 0}
  end
  local own, ownBad = reduceRecord(recordKey)
  if own == nil then
    return ownBad
  end
  if own and own.status ~= 0 then
    return {0, 0, 0, 1} -- already put back, or refused
  end
  local usage, bad = read(KEYS[1])
  if usage == nil then
    return bad
  end
  if usage and usage > limit - amount then
    return {2, usage, limit, 0}
  end
  -- Undone, not deleted: a late copy of the reduce's attempt must find it so. With the
  -- record gone (expired or evicted) while its Do, which applied the reduce, puts it back,
  -- the amount goes back as a put-back without a record would, and the record is written
  -- anew, undone: a resend of this put-back (its reply lost) must find it, not add again.
  if own then
    redis.call('SET', recordKey, withAmount(withAttempt(string.format('12 %d', own.usage), own.attempt), own.attempt, own.amount), 'PX', retention)
  end
  if not usage then
    return {1, 0, 0, 0}
  end
  usage = redis.call('INCRBY', KEYS[1], amount)
  if not own then
    redis.call('SET', recordKey, withAmount(withAttempt(string.format('12 %d', usage), attempt), attempt, amount), 'PX', retention)
  end
  return {0, usage, 0, 0}
end

if record then
  if record.state == '0' or record.state == '2' then
    return {tonumber(record.state), record.usage, tonumber(record.limit), 1}
  end
  if lateCopy(record, attempt) then
    return {0, record.usage, tonumber(record.limit), 1} -- its Do was undone or taken back
  end
  -- Absent, or taken back by an earlier Do: this add is a fresh attempt.
end

local function done(status, usage)
  if recordKey and (status == 0 or status == 2) then
    -- %d, not concatenation: Lua would write a large number as 9.007199254741e+15.
    local record = string.format('%d %d %d %d', status, usage, limit, amount)
    if attempt ~= '' then -- as withAttempt (exact.lua) writes it, without its definition
      record = record .. ' ' .. attempt
    end
    redis.call('SET', recordKey, record, 'PX', retention)
  end
  return {status, usage, limit, 0}
end

if limitKey then
  local cached, bad = read(limitKey)
  if cached == nil then
    return bad
  end
  if not cached then
    return {4, 0, 0, 0}
  end
  limit = cached
end

local usage, bad = read(KEYS[1])
if usage == nil then
  return bad
end
if not usage then
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

-- Not usage + amount > limit: that sum can pass 2^53, where doubles round.
if usage > limit - amount then
  return done(2, usage)
end
-- INCRBY keeps the key's expiration; the result is at most the limit, so exact.
return done(0, redis.call('INCRBY', KEYS[1], amount))
