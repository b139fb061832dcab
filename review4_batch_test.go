package andromeda_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	redisv8client "github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/cache/redisv9"
	arueidis "github.com/ramadani/andromeda/cache/rueidis"
	avalkey "github.com/ramadani/andromeda/cache/valkey"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/redis/go-redis/v9"
	rd "github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vk "github.com/valkey-io/valkey-go"
)

// Review 4, attacks on the coalesced batch that held: through go-redis v9 (RESP3 and
// RESP2), go-redis v8, rueidis and valkey-go (RESP3), and miniredis, add_batch.lua's short
// reply (all-digit outcome strings such as "000", a shared limit sent once, n limits,
// the limit key, a start near 2^53, 512 adds, a batch creating a missing key) gives
// exactly what add.lua gives each add sent alone, in order.
func TestReview4BatchMatchesAddsAlone(t *testing.T) {
	redistest.Require(t)
	server := redistest.Standalone(t)
	clients := map[string]func(t *testing.T) andromeda.Cache{
		"v9 resp3": func(t *testing.T) andromeda.Cache {
			c := redis.NewClient(&redis.Options{Addr: server.Addr})
			t.Cleanup(func() { c.Close() })
			return redisv9.New(c)
		},
		"v9 resp2": func(t *testing.T) andromeda.Cache {
			c := redis.NewClient(&redis.Options{Addr: server.Addr, Protocol: 2})
			t.Cleanup(func() { c.Close() })
			return redisv9.New(c)
		},
		"v8": func(t *testing.T) andromeda.Cache {
			c := redisv8client.NewClient(&redisv8client.Options{Addr: server.Addr})
			t.Cleanup(func() { c.Close() })
			return redisv8.New(c)
		},
		"rueidis": func(t *testing.T) andromeda.Cache {
			c, err := rd.NewClient(rd.ClientOption{InitAddress: []string{server.Addr}, DisableCache: true})
			require.NoError(t, err)
			t.Cleanup(c.Close)
			return arueidis.New(c)
		},
		"valkey": func(t *testing.T) andromeda.Cache {
			c, err := vk.NewClient(vk.ClientOption{InitAddress: []string{server.Addr}, DisableCache: true})
			require.NoError(t, err)
			t.Cleanup(c.Close)
			return avalkey.New(c)
		},
		"miniredis": func(t *testing.T) andromeda.Cache { return miniredisBackend(t).cache },
	}
	const max = int64(andromeda.MaxAmount)
	big := make([]int64, 512)
	bigLimits := make([]int64, 512)
	for i := range big {
		big[i] = int64(i%7 + 1)
		bigLimits[i] = 1000
	}
	mixed := make([]int64, 512)
	for i := range mixed {
		mixed[i] = int64(500 + i%300)
	}
	cases := []struct {
		name     string
		start    int64 // -1: absent
		limitKey int64 // -1: none
		create   bool
		amounts  []int64
		limits   []int64
	}{
		{"shared all applied", 5, -1, false, []int64{1, 2, 3}, []int64{100, 100, 100}},
		{"shared some refused", 5, -1, false, []int64{1, 50, 3, 60}, []int64{60, 60, 60, 60}},
		{"mixed limits", 5, -1, false, []int64{3, 3, 3, 3}, []int64{8, 10, 20, 14}},
		{"two mixed", 0, -1, false, []int64{1, 1}, []int64{0, 1}},
		{"limit key", 5, 9, false, []int64{2, 2, 2}, []int64{0, 0, 0}},
		{"limit key zero", 0, 0, false, []int64{1}, []int64{0}},
		{"near 2^53", max - 3, -1, false, []int64{1, 5, 2, 1}, []int64{max, max, max, max}},
		{"near 2^53 mixed", max - 3, -1, false, []int64{max, 3, 1}, []int64{max, max, max - 1}},
		{"near 2^53 limit key", max - 2, max, false, []int64{3, 2, 1}, []int64{0, 0, 0}},
		{"create missing", -1, -1, true, []int64{4, 4, 4}, []int64{10, 10, 10}},
		{"create missing none fits", -1, -1, true, []int64{40, 40}, []int64{10, 10}},
		{"missing", -1, -1, false, []int64{1, 1}, []int64{10, 10}},
		{"512 shared", 0, -1, false, big, bigLimits},
		{"512 mixed", 0, -1, false, big, mixed},
	}
	for name, mk := range clients {
		t.Run(name, func(t *testing.T) {
			cache := mk(t)
			ctx := context.Background()
			st := storeOf(cache)
			batchScript := andromeda.NewScript(scripts.AddBatch)
			for ci, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					bk := fmt.Sprintf("r4b:{%s%d}:batch", name, ci)
					ak := fmt.Sprintf("r4b:{%s%d}:alone", name, ci)
					lk := ""
					if tc.start >= 0 {
						require.NoError(t, setRaw(ctx, cache, bk, tc.start))
						require.NoError(t, setRaw(ctx, cache, ak, tc.start))
					}
					if tc.limitKey >= 0 {
						lk = andromeda.LimitKey(bk)
						require.NoError(t, setRaw(ctx, cache, lk, tc.limitKey))
						require.NoError(t, setRaw(ctx, cache, andromeda.LimitKey(ak), tc.limitKey))
					}
					absent := int64(-1)
					if tc.create {
						absent = 0
					}
					keys, args := scripts.AddBatchArgs(bk, lk, bk+":holds", absent, tc.amounts, tc.limits)
					reply, err := cache.RunScript(ctx, batchScript, keys, args...)
					require.NoError(t, err)
					got, err := scripts.ParseBatch(reply, tc.amounts, tc.limits)
					require.NoError(t, err, "reply %#v", reply)
					require.Len(t, got, len(tc.amounts))
					for i := range tc.amounts {
						a := addArgs(ak, tc.amounts[i], tc.limits[i], tc.limitKey >= 0, tc.create)
						want, err := st.AddUsage(ctx, a)
						require.NoError(t, err)
						assert.Equal(t, int(want.Status), int(got[i].Status), "add %d status", i)
						assert.Equal(t, want.Usage, got[i].Usage, "add %d usage", i)
						if want.Status != 1 {
							assert.Equal(t, want.Limit, got[i].Limit, "add %d limit", i)
						}
					}
					bv, _, err := st.GetUsage(ctx, bk)
					require.NoError(t, err)
					av, _, err := st.GetUsage(ctx, ak)
					require.NoError(t, err)
					assert.Equal(t, av, bv, "usage stored")
				})
			}
		})
	}
}

var setScript = andromeda.NewScript("return redis.call('SET', KEYS[1], ARGV[1])")

func setRaw(ctx context.Context, cache andromeda.Cache, key string, v int64) error {
	_, err := cache.RunScript(ctx, setScript, []string{key}, strconv.FormatInt(v, 10))
	return err
}

func addArgs(key string, amount, limit int64, limitKey, create bool) storetypes.AddUsageArgs {
	a := storetypes.AddUsageArgs{Key: key, Amount: amount, Limit: limit, CreateMissing: create}
	if limitKey {
		a.LimitKey = andromeda.LimitKey(key)
	}
	return a
}
