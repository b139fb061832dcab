-- Rewrites the value at KEYS[1] unchanged, keeping its expiry: a write that Redis
-- replicates, so that a WAIT after it covers every earlier write to the key. A replayed
-- change (its idempotency record answered, nothing written) is confirmed with it when the
-- transport waits for replicas. Redis 7.0 moves a connection's WAIT offset to the
-- server's after every command, so there a replay's WAIT already covers the change it
-- replays; a server that tracks only the connection's own writes would let a replay on a
-- connection that wrote nothing lately pass while the change is not yet on any replica.
-- It costs one more script call, on replays only.
local v = redis.call('GET', KEYS[1])
if v then redis.call('SET', KEYS[1], v, 'KEEPTTL') end
return 1
