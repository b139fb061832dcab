package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/redis/go-redis/v9"
)

// readQuota reads a quota's keys and the server's clock in one step, so that what inspect
// shows is one moment's state: for each key its type, its value (a string, or a hash's
// fields and values) and its TTL in ms, then TIME. Read only.
var readQuota = redis.NewScript(`
local out = {}
for _, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key)['ok']
  local value = ''
  if kind == 'string' then
    value = redis.call('GET', key)
  elseif kind == 'hash' then
    value = redis.call('HGETALL', key)
  end
  out[#out + 1] = kind
  out[#out + 1] = value
  out[#out + 1] = redis.call('PTTL', key)
end
local now = redis.call('TIME')
out[#out + 1] = now[1]
out[#out + 1] = now[2]
return out
`)

// stored is one key as readQuota found it.
type stored struct {
	key    string
	kind   string // Redis's TYPE: "none" when absent
	raw    string // a string's value
	fields []string
	ttl    time.Duration // negative: no expiration
}

// bucket is one end of a quota's holds: the sum of the amounts of the holds that end then.
type bucket struct {
	ends   time.Time
	amount int64
}

// snapshot is a quota's state in Redis at one moment.
type snapshot struct {
	now                   time.Time
	usage, limit, buckets stored
	holds                 []bucket // by end, soonest first
	epoch                 string   // the buckets' epoch: holds made under another are lost
	records               []stored // the records of the holds asked for, in order
	// bucketsErr says why the hold buckets could not be read: they hold what andromeda
	// did not write.
	bucketsErr error
}

func readSnapshot(ctx context.Context, client redis.UniversalClient, key string, holdIDs []string) (snapshot, error) {
	bucketsKey, _ := andromeda.HoldKeys(key, "")
	keys := []string{key, andromeda.LimitKey(key), bucketsKey}
	for _, id := range holdIDs {
		_, record := andromeda.HoldKeys(key, id)
		keys = append(keys, record)
	}
	reply, err := readQuota.Run(ctx, client, keys).Slice()
	if err != nil {
		return snapshot{}, fmt.Errorf("read %s: %w", key, err)
	}
	if len(reply) != 3*len(keys)+2 {
		return snapshot{}, fmt.Errorf("read %s: unexpected reply %v", key, reply)
	}
	found := make([]stored, len(keys))
	for i, k := range keys {
		s := stored{key: k}
		s.kind, _ = reply[3*i].(string)
		switch v := reply[3*i+1].(type) {
		case string:
			s.raw = v
		case []any:
			for _, f := range v {
				text, _ := f.(string)
				s.fields = append(s.fields, text)
			}
		}
		ms, _ := reply[3*i+2].(int64)
		s.ttl = time.Duration(ms) * time.Millisecond
		found[i] = s
	}
	sec, _ := strconv.ParseInt(fmt.Sprint(reply[len(reply)-2]), 10, 64)
	usec, _ := strconv.ParseInt(fmt.Sprint(reply[len(reply)-1]), 10, 64)
	snap := snapshot{now: time.Unix(sec, usec*1000).UTC(), usage: found[0], limit: found[1], buckets: found[2], records: found[3:]}
	if snap.buckets.kind == "hash" {
		snap.holds, snap.bucketsErr = parseBuckets(snap.buckets)
		snap.epoch = snap.buckets.field("epoch")
	}
	return snap, nil
}

// parseBuckets reads a hold buckets hash (see internal/scripts/holds_release.lua): a field
// per bucket end in ms with the sum held until then, beside "epoch" and "next".
func parseBuckets(s stored) ([]bucket, error) {
	var holds []bucket
	for i := 0; i+1 < len(s.fields); i += 2 {
		field, value := s.fields[i], s.fields[i+1]
		if field == "epoch" || field == "next" {
			continue
		}
		ends, err1 := strconv.ParseInt(field, 10, 64)
		// A sum may pass 2^53 (holds whose units plain reduces gave back), up to what
		// HINCRBY holds, as the library reads it.
		amount, err2 := strconv.ParseInt(value, 10, 64)
		if err1 != nil || err2 != nil || ends <= 0 || amount <= 0 || strconv.FormatInt(amount, 10) != value {
			return nil, fmt.Errorf("%w: hold buckets %q hold %s=%s", andromeda.ErrInvalidCachedUsage, s.key, field, value)
		}
		holds = append(holds, bucket{ends: time.UnixMilli(ends).UTC(), amount: amount})
	}
	sort.Slice(holds, func(i, j int) bool { return holds[i].ends.Before(holds[j].ends) })
	return holds, nil
}

// field returns a hash's field, or "" when it has none.
func (s stored) field(name string) string {
	for i := 0; i+1 < len(s.fields); i += 2 {
		if s.fields[i] == name {
			return s.fields[i+1]
		}
	}
	return ""
}

// number reads a usage or limit andromeda wrote; found is false when the key is absent.
func (s stored) number() (n int64, found bool, err error) {
	switch s.kind {
	case "none":
		return 0, false, nil
	case "string":
		if n, ok := scripts.ParseUsage(s.raw); ok {
			return n, true, nil
		}
		return 0, false, fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, s.key, s.raw)
	}
	return 0, false, fmt.Errorf("%w: key %q holds a %s", andromeda.ErrInvalidCachedUsage, s.key, s.kind)
}

// expiry says how long a key is kept.
func (s stored) expiry() string {
	if s.ttl < 0 {
		return "no expiration"
	}
	return "expires in " + roughly(s.ttl)
}

// roughly rounds d for reading: to the second, or to the millisecond below one second.
func roughly(d time.Duration) string {
	if d < time.Second && d > -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
