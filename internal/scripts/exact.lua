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

-- getRecord returns the string at an idempotency record's key, false when it is absent,
-- or nil and the reply that reports a key of another type.
local function getRecord(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' then
    return nil, {10, redis.call('TYPE', key)['ok'], key}
  end
  return raw
end

-- addRecord reads the record of an add, "state usage limit amount" (see add.lua; records
-- of older versions have no amount): a table of its fields, false when it is absent, or
-- nil and the reply that reports what andromeda cannot have written there.
local addStates = {['0'] = true, ['2'] = true, ['11'] = true, ['12'] = true}
local function addRecord(key)
  local raw, bad = getRecord(key)
  if not raw then
    return raw, bad
  end
  local state, usage, limit, amount = string.match(raw, '^(%d+) (%d+) (%d+) ?(%d*)$')
  if not (state and addStates[state] and exact(usage) and exact(limit)
      and (amount == '' or amount ~= '0' and exact(amount))) then
    return nil, {9, raw, key}
  end
  return {state = state, usage = tonumber(usage), limit = limit, amount = tonumber(amount)}
end

-- reduceRecord reads the record of a reduce of its own, "status usage" (see reduce.lua),
-- as addRecord does.
local function reduceRecord(key)
  local raw, bad = getRecord(key)
  if not raw then
    return raw, bad
  end
  local status, usage = string.match(raw, '^(%d) (%d+)$')
  if not ((status == '0' or status == '3') and exact(usage)) then
    return nil, {9, raw, key}
  end
  return {status = tonumber(status), usage = tonumber(usage)}
end
