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
