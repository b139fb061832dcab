-- Holds: quota reserved now and committed or cancelled later (see andromeda's QuotaHolds).
-- The usage at KEYS[1] counts committed usage plus active holds, so every other script
-- sees held quota as used. The amounts of the active holds are also summed by expiry in a
-- hash of buckets (see holds_release.lua), which every script on the quota sweeps first:
-- a hold neither committed nor cancelled by its end is released by whichever call comes
-- next, in O(buckets), with no background process. Each hold has a record of its own with
-- its own expiry, so closed holds are forgotten by Redis after their retention.
--
-- KEYS[1]  usage
-- KEYS[2]  hold buckets (hash, see holds_release.lua)
-- KEYS[3]  the hold's record (hash): state ("active", "committed", "cancelled", or
--          "refused": a reserve refused for the limit, kept for the retention),
--          amount, ends (ms, its bucket's end) and epoch (of the buckets it was made in)
--
-- ARGV[1]  "reserve", "commit" or "cancel"
-- ARGV[2]  amount (reserve, 1 .. 2^53)
-- ARGV[3]  limit (reserve, 0 .. 2^53)
-- ARGV[4]  how long the hold lasts, in ms (reserve); it ends at the next multiple of
--          ceil(ARGV[4] / 64) ms, so it lasts up to 1/64 longer
-- ARGV[5]  how long a closed hold is remembered, in ms
-- ARGV[6]  when the usage is absent: -1 reports it missing; 0 or more starts it at zero
--          with that expiration in ms (reserve)
--
-- Reply {status, usage, 0, replayed}: 0 done, 1 usage missing, 2 limit exceeded (usage found),
-- 5 the hold expired, 6 it was cancelled, 7 there is no such hold, 8 it was committed;
-- replayed is 1 when nothing changed because the request had been done already.
-- {11, the recorded amount, the hold's key}: a reserve of another amount under the ID.
-- {9, value, key} when a key holds a value andromeda did not write, {10, type, key} when
-- it is of another type; then nothing is changed.
-- exact comes from exact.lua, serverMs and sweepBuckets from holds_release.lua (loadHolds), which the
-- Go side puts before this script.

loadHolds()

local usageKey, bucketsKey, holdKey = KEYS[1], KEYS[2], KEYS[3]
local mode = ARGV[1]

-- Everything is read and checked before anything is written.
for i, want in ipairs({'string', 'hash', 'hash'}) do
  local found = redis.call('TYPE', KEYS[i])['ok']
  if found ~= 'none' and found ~= want then
    return {10, found, KEYS[i]}
  end
end

local raw = redis.call('GET', usageKey)
if raw and not exact(raw) then
  return {9, raw, usageKey}
end

local hold = redis.call('HGETALL', holdKey)
local record = {}
for i = 1, #hold, 2 do
  record[hold[i]] = hold[i + 1]
end
local states = {active = true, committed = true, cancelled = true, refused = true}
if #hold > 0 and not (states[record.state] and record.amount and record.amount ~= '0' and exact(record.amount)
    and string.match(record.ends or '', '^%d+$') and string.match(record.epoch or '', '^%d+$')) then
  local text = {}
  for i = 1, #hold, 2 do
    text[#text + 1] = hold[i] .. '=' .. hold[i + 1]
  end
  return {9, table.concat(text, ' '), holdKey}
end
-- A hold ID names one reserve: a repeat of another amount is refused, changing nothing.
if mode == 'reserve' and #hold > 0 and record.amount ~= ARGV[2] then
  return {11, tonumber(record.amount), holdKey}
end

local now = serverMs()
local epoch
if redis.call('EXISTS', bucketsKey) == 1 then
  if not raw then
    -- Holds were counted in the usage: when the usage is gone, they are gone with it.
    redis.call('DEL', bucketsKey)
  else
    local swept, found, value = sweepBuckets(usageKey, bucketsKey, raw, now)
    if not swept then
      return {9, found .. '=' .. value, bucketsKey}
    end
    raw, epoch = string.format('%d', swept), found
  end
end
local usage = tonumber(raw or '0')

-- The hold's state now: an active hold past its end, or made under buckets since lost, has
-- expired (its amount, if still counted, was released above).
local state = record.state
if state == 'active' and (tonumber(record.ends) <= now or record.epoch ~= epoch) then
  state = 'expired'
end
local codes = {expired = 5, cancelled = 6, committed = 8}

-- take removes an active hold's amount from its bucket.
local function take()
  local left = redis.call('HINCRBY', bucketsKey, record.ends, '-' .. record.amount)
  if left <= 0 then
    redis.call('HDEL', bucketsKey, record.ends)
    if redis.call('HLEN', bucketsKey) <= 2 then -- only epoch and next: no hold is active
      redis.call('DEL', bucketsKey)
    end
  end
end

-- close records the hold's final state, remembered for the retention from now.
local function close(final)
  redis.call('HSET', holdKey, 'state', final)
  redis.call('PEXPIRE', holdKey, ARGV[5])
end

if mode == 'reserve' then
  if state == 'refused' then
    return {2, usage, 0, 1}
  end
  if state then
    return {codes[state] or 0, usage, 0, 1}
  end
  local absent = tonumber(ARGV[6])
  if not raw and absent < 0 then
    return {1, 0, 0, 0}
  end
  local amount, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
  if usage > limit - amount then -- exact for values up to 2^53, unlike usage + amount
    -- Recorded, as a keyed add's refusal is: a repeat gets the refusal, its first
    -- outcome, not an admission because a unit came back meanwhile.
    redis.call('HSET', holdKey, 'state', 'refused', 'amount', ARGV[2], 'ends', '0', 'epoch', '0')
    redis.call('PEXPIRE', holdKey, ARGV[5])
    return {2, usage, 0, 0}
  end
  local holdFor = tonumber(ARGV[4])
  local width = math.max(1, math.ceil(holdFor / 64))
  local ends = math.ceil((now + holdFor) / width) * width
  local endsText = string.format('%d', ends)
  -- The bucket first: were it to fail, nothing else has changed.
  redis.call('HINCRBY', bucketsKey, endsText, ARGV[2])
  if not epoch then -- new buckets: a new epoch, never one used before on this server
    local time = redis.call('TIME')
    epoch = time[1] .. string.format('%06d', tonumber(time[2]))
  end
  local soonest = tonumber(redis.call('HGET', bucketsKey, 'next') or endsText)
  redis.call('HSET', bucketsKey, 'epoch', epoch, 'next', string.format('%d', math.min(soonest, ends)))
  if raw then
    usage = redis.call('INCRBY', usageKey, ARGV[2])
  else
    usage = amount
    if absent > 0 then
      redis.call('SET', usageKey, ARGV[2], 'PX', absent)
    else
      redis.call('SET', usageKey, ARGV[2])
    end
  end
  -- The buckets live at least as long as the usage that counts them: were they to go
  -- first, the usage would keep the holds' amounts for good.
  -- (A second more: they may outlive it, as whatever finds the usage absent drops them.)
  local ttl = redis.call('PTTL', usageKey)
  if ttl > 0 then
    redis.call('PEXPIRE', bucketsKey, string.format('%d', ttl + 1000))
  else
    redis.call('PERSIST', bucketsKey)
  end
  redis.call('HSET', holdKey, 'state', 'active', 'amount', ARGV[2], 'ends', endsText, 'epoch', epoch)
  redis.call('PEXPIRE', holdKey, string.format('%d', ends - now + tonumber(ARGV[5])))
  return {0, usage, 0, 0}
end

if mode == 'commit' then
  if state == 'active' then
    take()
    close('committed')
    return {0, usage, 0, 0}
  end
  if state == 'committed' then
    return {0, usage, 0, 1}
  end
  return {codes[state] or 7, usage, 0, 0}
end

-- cancel
if state == 'active' then
  take()
  local given = math.min(tonumber(record.amount), usage)
  if given > 0 then
    usage = redis.call('DECRBY', usageKey, string.format('%d', given))
  end
  close('cancelled')
  return {0, usage, 0, 0}
end
if state == 'committed' then
  return {8, usage, 0, 0}
end
return {0, usage, 0, 1} -- cancelled, expired or never held: nothing is held
