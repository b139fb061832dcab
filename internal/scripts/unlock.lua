-- Releases the lock at KEYS[1] only if it still holds this holder's token ARGV[1],
-- so a holder whose lock expired cannot release someone else's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
