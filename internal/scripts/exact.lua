-- Helpers the usage scripts share; the Go side puts this before each of them.

-- MAX is andromeda.MaxAmount, 2^53: every number up to it is exact in Lua's doubles, so
-- comparisons written as `usage > limit - amount` (never `usage + amount`, which can pass
-- 2^53 and round) decide exactly.
local MAX = 9007199254740992

-- exact reports whether raw is a whole number from 0 to 2^53 written the way INCRBY
-- writes it ("05", "-0", "+1", "1.0" are not). Compared as text: tonumber would round a
-- value beyond 2^53 into range.
local function exact(raw)
  if raw == '0' then
    return true
  end
  return string.find(raw, '^[1-9]%d*$') ~= nil and (#raw < 16 or (#raw == 16 and raw <= '9007199254740992'))
end

-- read returns the usage (or limit) at key as a number, or false when the key is absent.
-- Anything else was written by someone else and is not trusted: read returns nil and the
-- reply that reports it: {9, the value, key} for a string that is not exact(), or
-- {10, the type, key} for a key of another type.
local function read(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' then -- WRONGTYPE: a hash, a list, ...
    return nil, {10, redis.call('TYPE', key)['ok'], key}
  end
  if not raw then
    return false
  end
  if exact(raw) then
    return tonumber(raw)
  end
  return nil, {9, raw, key}
end

-- The record helpers below are defined only by a script that reads records (see
-- loadRecords): defining a function costs every call of a script, used or not, and a plain
-- add or reduce never reads a record.
local getRecord, fields, attemptOK, addRecord, reduceRecord, withAttempt, withAmount, lateCopy, addStates, reduceStates

-- loadRecords defines the record helpers, once per script call that needs them.
local function loadRecords()
  if addRecord then
    return
  end
  -- getRecord returns the string at an idempotency record's key, false when it is absent,
  -- or nil and the reply that reports a key of another type.
  getRecord = function(key)
    local raw = redis.pcall('GET', key)
    if type(raw) == 'table' then
      return nil, {10, redis.call('TYPE', key)['ok'], key}
    end
    return raw
  end

  -- fields splits a record at single spaces; nil when it is not so written.
  fields = function(raw)
    local out = {}
    for field in string.gmatch(raw, '[^ ]+') do
      out[#out + 1] = field
    end
    if table.concat(out, ' ') ~= raw then
      return nil
    end
    return out
  end

  -- attemptOK reports whether a record's attempt field (see Idempotency.Attempt) is absent
  -- or one andromeda writes.
  attemptOK = function(attempt)
    return attempt == nil or string.find(attempt, '^[%w_%-]+$') ~= nil
  end

  -- addRecord reads the record of an add, "state usage limit amount attempt" (see add.lua;
  -- records of older versions lack the last one or two): a table of its fields, false when
  -- it is absent, or nil and the reply that reports what andromeda cannot have written there.
  addStates = {['0'] = true, ['2'] = true, ['11'] = true, ['12'] = true}
  addRecord = function(key)
    local raw, bad = getRecord(key)
    if not raw then
      return raw, bad
    end
    local f = fields(raw)
    if not (f and #f >= 3 and #f <= 5 and addStates[f[1]] and exact(f[2]) and exact(f[3])
        and (f[4] == nil or f[4] ~= '0' and exact(f[4])) and attemptOK(f[5])) then
      return nil, {9, raw, key}
    end
    return {state = f[1], usage = tonumber(f[2]), limit = f[3], amount = tonumber(f[4]), attempt = f[5] or ''}
  end

  -- reduceRecord reads the record of a reduce of its own, "status usage attempt amount"
  -- (see reduce.lua; records of older versions lack the amount, or the attempt and the
  -- amount), as addRecord does.
  reduceStates = {['0'] = true, ['3'] = true, ['12'] = true}
  reduceRecord = function(key)
    local raw, bad = getRecord(key)
    if not raw then
      return raw, bad
    end
    local f = fields(raw)
    if not (f and #f >= 2 and #f <= 4 and reduceStates[f[1]] and exact(f[2]) and attemptOK(f[3])
        and (f[4] == nil or f[4] ~= '0' and exact(f[4]))) then
      return nil, {9, raw, key}
    end
    return {status = tonumber(f[1]), usage = tonumber(f[2]), attempt = f[3] or '', amount = tonumber(f[4])}
  end

  -- withAmount appends a reduce record's amount after its attempt (only there: without an
  -- attempt, an amount would read as one).
  withAmount = function(record, attempt, amount)
    if attempt == '' or not amount then
      return record
    end
    return record .. ' ' .. string.format('%d', amount)
  end

  -- withAttempt appends a record's attempt field, when there is one.
  withAttempt = function(record, attempt)
    if attempt == '' then
      return record
    end
    return record .. ' ' .. attempt
  end

  -- lateCopy reports whether a record that says its change was taken back or undone was
  -- written for the Do that attempt names: a copy of one of that Do's attempts, held up on
  -- the network and delivered after the Do ended, must change nothing.
  lateCopy = function(record, attempt)
    return attempt ~= '' and record.attempt == attempt
  end
end
