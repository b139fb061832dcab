-- Puts a loaded value into the cache only while the loader still holds its lock, so a
-- write that reaches Redis after the lock expired (a slow network, a paused process)
-- changes nothing: by then another process may have loaded, changed and synced the
-- value, and the key may have been evicted since.
--
-- KEYS[1]    the loader lock, in KEYS[2]'s slot
-- KEYS[2]    the key to set if absent
-- KEYS[3..]  keys to delete when the value is set (state derived from the old value)
-- ARGV[1]    the lock holder's token
-- ARGV[2]    the value
-- ARGV[3]    expiration in milliseconds; 0 means none
--
-- Returns 1 when it set the value, 0 when the key was present, -1 when the lock is no
-- longer held (nothing written).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local ms = tonumber(ARGV[3])
local set
if ms > 0 then
  set = redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ms)
else
  set = redis.call('SET', KEYS[2], ARGV[2], 'NX')
end
if not set then
  return 0
end
if #KEYS > 2 then
  redis.call('DEL', unpack(KEYS, 3))
end
return 1
