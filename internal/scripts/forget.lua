-- Forgets a usage: deletes it and the state derived from it (its hold buckets), in one
-- step, so that the next change finds it missing and loads it afresh. Nothing runs
-- between the read and the delete: a concurrent change lands wholly before (and is
-- forgotten with the usage) or wholly after (and finds the usage missing).
--
-- KEYS[1]    the usage
-- KEYS[2..]  keys derived from it, deleted with it (also when the usage is absent: state
--            left over from a usage gone missing is dropped too)
--
-- Reply {0, usage} when it deleted the usage, {1, 0} when the usage was absent;
-- {9, value, key} or {10, type, key} when the usage key holds something andromeda did
-- not write: then nothing is deleted (read comes from exact.lua, which the Go side puts
-- before this script).

local usage, bad = read(KEYS[1])
if usage == nil then
  return bad
end
redis.call('DEL', unpack(KEYS))
if not usage then
  return {1, 0}
end
return {0, usage}
