-- Reads a usage and the amount its holds count in it, in one step, for the job that
-- writes usage back to a database: the database must get the usage without its holds,
-- since holds are dropped, never released, when a usage is loaded afresh (see
-- holds_release.lua).
--
-- KEYS[1]  the usage
-- KEYS[2]  its hold buckets
--
-- Reply {0, usage, held} when the usage is there (held: the sum of its buckets, holds
-- live or expired and not yet released, at most the usage: a plain reduce may have taken
-- some of it, and a release never goes below zero), {1, 0, 0} when it is absent; {9, value, key} or
-- {10, type, key} when either key holds something andromeda did not write. It writes
-- nothing. read and exact come from exact.lua, foreignBucket from holds_release.lua.

local usage, bad = read(KEYS[1])
if usage == nil then
  return bad
end
if not usage then
  return {1, 0, 0}
end
local fields = redis.pcall('HGETALL', KEYS[2])
if fields.err then -- WRONGTYPE
  return {10, redis.call('TYPE', KEYS[2])['ok'], KEYS[2]}
end
loadHolds()
local held = 0
for i = 1, #fields, 2 do
  local field, value = fields[i], fields[i + 1]
  if foreignBucket(field, value) then
    return {9, field .. '=' .. value, KEYS[2]}
  end
  if field ~= 'epoch' and field ~= 'next' then
    held = held + tonumber(value)
  end
end
return {0, usage, math.min(held, usage)}
