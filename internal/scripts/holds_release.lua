-- Releasing expired holds (see hold.lua), shared by hold.lua and put before the plain
-- usage scripts, so that whatever call comes next on a quota with holds sees them released.
--
-- The holds of a usage keep their amounts in a hash of expiry buckets, beside the usage:
--   <bucket end, ms>  the sum of the amounts of the active holds that expire then
--   epoch             made from server TIME (µs) when the hash is created; a hold made
--                     under another epoch was lost with the usage that counted it
--   next              the earliest bucket end, so that a call with nothing to release
--                     reads one field
-- Every hold ends at a multiple of its bucket width (HoldFor/64, rounded up), so the live
-- buckets span at most one HoldFor: at most 65 of them per HoldFor in use, whatever the
-- number of holds. Releasing is O(buckets), never O(holds).
-- exact(raw) comes from exact.lua, which the Go side puts before this.

-- The helpers below are defined only when a script finds holds (see loadHolds): defining
-- a function costs every call of a script, and most quotas never hold anything.
local serverMs, foreignBucket, sweepBuckets

-- loadHolds defines the hold helpers, once per script call that needs them.
local function loadHolds()
  if sweepBuckets then
    return
  end
  -- serverMs is the server's time in milliseconds.
  serverMs = function()
    local time = redis.call('TIME')
    return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  end

  -- foreignBucket reports whether a field of a buckets hash and its value are not as andromeda
  -- writes them: epoch and next are numbers; every other field is a bucket, a positive end
  -- and a sum as HINCRBY writes it, never 0 (take() deletes it), at most 2^63-1 ("02", or
  -- a sum no integer holds, someone else wrote). A sum may pass 2^53: holds whose units
  -- plain reduces gave back stay in their bucket until it ends (its release never takes
  -- the usage below zero).
  foreignBucket = function(field, value)
    if field == 'epoch' or field == 'next' then
      return not string.match(value, '^%d+$')
    end
    return not string.match(field, '^[1-9]%d*$') or not string.match(value, '^[1-9]%d*$') or #value > 19
        or (#value == 19 and value > '9223372036854775807')
  end

  -- sweepBuckets releases the buckets of bucketsKey that ended at or before now: the usage at
  -- usageKey (raw, a usage exact() accepts) goes down by their sum, never below zero. A hash left
  -- with no bucket is deleted. It returns the usage after it and the epoch (nil when the hash
  -- is gone), or nil and the offending field and value when the hash holds something andromeda
  -- did not write; then nothing is changed.
  sweepBuckets = function(usageKey, bucketsKey, raw, now)
    local fields = redis.call('HGETALL', bucketsKey)
    local usage = tonumber(raw)
    local expired, released, live, soonest, epoch, recorded = {}, 0, 0, nil, nil, nil
    for i = 1, #fields, 2 do
      local field, value = fields[i], fields[i + 1]
      if foreignBucket(field, value) then
        return nil, field, value
      end
      if field == 'epoch' then
        epoch = value
      elseif field == 'next' then
        recorded = value
      else
        local ends = tonumber(field)
        if ends <= now then
          expired[#expired + 1] = field
          released = released + tonumber(value) -- beyond 2^53 it rounds, but stays above any usage
        else
          live = live + 1
          if not soonest or ends < soonest then
            soonest = ends
          end
        end
      end
    end
    if live == 0 then
      redis.call('DEL', bucketsKey)
      epoch = nil
    else
      if #expired > 0 then
        redis.call('HDEL', bucketsKey, unpack(expired))
      end
      -- Also when a commit or cancel emptied the soonest bucket: a stale next would make
      -- every call sweep until the next bucket ends.
      local soonestText = string.format('%d', soonest)
      if recorded ~= soonestText then
        redis.call('HSET', bucketsKey, 'next', soonestText)
      end
    end
    -- A plain reduce may have given some of it back already: never below zero.
    local give = math.min(released, usage)
    if give > 0 then
      usage = redis.call('DECRBY', usageKey, string.format('%d', give))
    end
    return usage, epoch
  end
end

-- releaseExpiredHolds runs before a plain usage script. The last `quotas` KEYS are the
-- bucket hashes of KEYS[1 .. quotas]; they are taken off KEYS, so that the script after it
-- sees only its own keys. A quota that never used holds costs one HGET. When a usage is
-- absent, the holds it counted are lost with it: their buckets are dropped, so that none is
-- released against a usage made afresh. Values the script after it must report (a usage
-- that is not one, a key of another type) are left for it to report, untouched.
-- Buckets andromeda cannot have written are reported, before anything is written: it
-- returns {9, field=value, buckets key} or {10, type, buckets key} and the quota's index.
local function releaseExpiredHolds(quotas)
  local first = #KEYS - quotas
  local known -- the one quota's `next`, when read already (not read again below)
  if quotas == 1 then -- the common case, a quota with no holds: one HGET, no tables
    known = redis.pcall('HGET', KEYS[first + 1], 'next')
    if not known then
      KEYS[first + 1] = nil
      return
    end
  end
  local bucketKeys = {}
  for i = quotas, 1, -1 do -- from the end, so that KEYS never has a hole
    bucketKeys[i] = KEYS[first + i]
    KEYS[first + i] = nil
  end
  -- First read and check every quota's buckets, then change any.
  local sweeps, drops, now = {}, {}, nil
  for i = 1, quotas do
    local bucketsKey = bucketKeys[i]
    local soonest = known or redis.pcall('HGET', bucketsKey, 'next')
    if type(soonest) == 'table' then
      return {10, redis.call('TYPE', bucketsKey)['ok'], bucketsKey}, i
    end
    if soonest then
      loadHolds()
      if foreignBucket('next', soonest) then
        return {9, 'next=' .. soonest, bucketsKey}, i
      end
      local raw = redis.pcall('GET', KEYS[i])
      if not raw then
        drops[#drops + 1] = bucketsKey
      elseif type(raw) == 'string' and exact(raw) then
        now = now or serverMs()
        if tonumber(soonest) <= now then
          sweeps[#sweeps + 1] = {KEYS[i], bucketsKey, raw, i}
        end
      end
    end
  end
  if #sweeps + #drops == 0 then
    return
  end
  -- Several quotas: a usage that is not one is reported by the script after this, and then
  -- nothing may have changed, not even another quota's expired holds.
  for i = 1, quotas > 1 and quotas or 0 do
    local raw = redis.pcall('GET', KEYS[i])
    if type(raw) == 'table' or (raw and not exact(raw)) then
      return
    end
  end
  for _, sweep in ipairs(sweeps) do -- sweepBuckets checks every field before it writes
    local fields = redis.call('HGETALL', sweep[2])
    for j = 1, #fields, 2 do
      if foreignBucket(fields[j], fields[j + 1]) then
        return {9, fields[j] .. '=' .. fields[j + 1], sweep[2]}, sweep[4]
      end
    end
  end
  for _, bucketsKey in ipairs(drops) do
    redis.call('DEL', bucketsKey)
  end
  for _, sweep in ipairs(sweeps) do
    sweepBuckets(sweep[1], sweep[2], sweep[3], now)
  end
end
