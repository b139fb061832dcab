-- Stores a usage or limit at KEYS[1].
--
-- ARGV[1]  the value
-- ARGV[2]  expiration in milliseconds; 0 means none
-- ARGV[3]  1: only if KEYS[1] is absent (SET NX); 0: whatever was there
--
-- Returns 1 when it stored the value, 0 when KEYS[1] was present and ARGV[3] is 1.
local args = {'SET', KEYS[1], ARGV[1]}
if tonumber(ARGV[2]) > 0 then
  args[#args + 1] = 'PX'
  args[#args + 1] = ARGV[2]
end
if ARGV[3] == '1' then
  args[#args + 1] = 'NX'
end
if redis.call(unpack(args)) then
  return 1
end
return 0
