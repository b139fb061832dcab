package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	redisv8client "github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv8"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/cache/valkey"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	rueidisclient "github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	valkeyclient "github.com/valkey-io/valkey-go"
)

// These tests build clients the way a new user would, with DEFAULT options: go-redis
// resends a command after a network error (MaxRetries 3 in v9 and v8). A proxy between
// client and server drops about one reply in ten after Redis ran the script, and cuts
// that connection. Before the adapters stopped resends, 2,000 adds of 1 that all
// reported success raised the usage by about 2,220.

const (
	resendRequests = 2000
	resendWorkers  = 8
	dropRate       = 0.1
	bigLimit       = 1 << 40
)

// defaultClientCache builds a cache over a client with default options, per adapter.
type defaultClientCache struct {
	name  string
	cache func(t *testing.T, addr string) andromeda.Cache
}

var defaultClientCaches = []defaultClientCache{
	{"v9", func(t *testing.T, addr string) andromeda.Cache {
		client := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		return redisv9.New(client)
	}},
	{"v8", func(t *testing.T, addr string) andromeda.Cache {
		client := redisv8client.NewClient(&redisv8client.Options{Addr: addr})
		t.Cleanup(func() { client.Close() })
		return redisv8.New(client)
	}},
	{"rueidis", func(t *testing.T, addr string) andromeda.Cache {
		client, err := rueidisclient.NewClient(rueidisclient.ClientOption{InitAddress: []string{addr}})
		require.NoError(t, err)
		t.Cleanup(client.Close)
		return rueidis.New(client)
	}},
	{"valkey", func(t *testing.T, addr string) andromeda.Cache {
		client, err := valkeyclient.NewClient(valkeyclient.ClientOption{InitAddress: []string{addr}})
		require.NoError(t, err)
		t.Cleanup(client.Close)
		return valkey.New(client)
	}},
}

// resendRig is a real Redis behind a proxy that drops replies, a cache over a default
// client through the proxy, and a direct client for reading the truth.
type resendRig struct {
	proxy  *faultproxy.Proxy
	direct *redis.Client
	cache  andromeda.Cache
}

func newResendRig(t *testing.T, newCache func(t *testing.T, addr string) andromeda.Cache) resendRig {
	server := redistest.Standalone(t)
	proxy, err := faultproxy.Start(server.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	direct := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { direct.Close() })
	return resendRig{proxy: proxy, direct: direct, cache: newCache(t, proxy.Addr())}
}

func (r resendRig) usage(t *testing.T, key string) int64 {
	t.Helper()
	raw, err := r.direct.Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return 0
	}
	require.NoError(t, err)
	n, err := strconv.ParseInt(raw, 10, 64)
	require.NoError(t, err)
	return n
}

// outcomes counts how the Do calls of a run ended.
type outcomes struct {
	ok, unknown, unavailable atomic.Int64
	mu                       sync.Mutex
	untyped                  []error      // errors that wrap neither sentinel
	unknownIDs               map[int]bool // requests whose outcome stayed unknown
}

func (o *outcomes) record(i int, err error) {
	switch {
	case err == nil:
		o.ok.Add(1)
	case errors.Is(err, andromeda.ErrUnknownOutcome):
		o.unknown.Add(1)
		o.mu.Lock()
		if o.unknownIDs == nil {
			o.unknownIDs = map[int]bool{}
		}
		o.unknownIDs[i] = true
		o.mu.Unlock()
	case errors.Is(err, andromeda.ErrRedisUnavailable):
		o.unavailable.Add(1)
	default:
		o.mu.Lock()
		o.untyped = append(o.untyped, err)
		o.mu.Unlock()
	}
}

// drive runs do(i) for i in [0, n) on resendWorkers goroutines.
func drive(n int, do func(i int) error) *outcomes {
	o := &outcomes{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range resendWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				o.record(i, do(i))
			}
		}()
	}
	wg.Wait()
	return o
}

func constLimit(n int64) andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
}

func constKey(key string) andromeda.GetQuotaKey {
	return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return key, nil })
}

// A change is counted at most once: the usage moves by at least the changes reported
// done and at most those plus the ones reported unknown, for add, reduce, coalesced add
// and multi-quota add, through go-redis v9 and v8, rueidis and valkey-go clients with default options.
func TestResendsNeverCountTwice(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	const key = "resend:{q}:usage"
	const start = int64(1_000_000)
	for _, adapter := range defaultClientCaches {
		for _, tc := range []struct {
			name string
			sign int64 // +1 for adds, -1 for reduces
			keys []string
			do   func(cache andromeda.Cache) andromeda.UpdateQuotaUsage
		}{
			{"add", 1, []string{key}, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)})
			}},
			{"reduce", -1, []string{key}, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaUsageKey: constKey(key)})
			}},
			{"coalesced add", 1, []string{key}, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(bigLimit),
					GetQuotaUsageKey: constKey(key), Option: andromeda.AddUsageOption{Coalesce: true}})
			}},
			{"multi-quota add", 1, []string{key, "resend:{q}:user"}, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: cache, Quotas: []andromeda.Quota{
					{GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)},
					{GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey("resend:{q}:user")},
				}})
			}},
		} {
			t.Run(adapter.name+"/"+tc.name, func(t *testing.T) {
				rig := newResendRig(t, adapter.cache)
				for _, k := range tc.keys {
					require.NoError(t, rig.direct.Set(context.Background(), k, start, 0).Err())
				}
				do := tc.do(rig.cache)
				rig.proxy.SetDropRate(dropRate)
				o := drive(resendRequests, func(int) error {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_, err := do.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
					return err
				})
				rig.proxy.SetDropRate(0)

				_, cut := rig.proxy.Stats()
				for _, k := range tc.keys {
					changed := tc.sign * (rig.usage(t, k) - start)
					t.Logf("%s: %d done, %d unknown, %d unavailable; usage changed by %d; %d connections cut",
						k, o.ok.Load(), o.unknown.Load(), o.unavailable.Load(), changed, cut)
					assert.GreaterOrEqual(t, changed, o.ok.Load(), "every change reported done was counted")
					assert.LessOrEqual(t, changed, o.ok.Load()+o.unknown.Load(), "no change counted twice")
				}
				assert.Empty(t, o.untyped, "every error wraps ErrUnknownOutcome or ErrRedisUnavailable")
				assert.Positive(t, o.unknown.Load(), "the proxy must really have dropped replies")
				assert.Positive(t, o.ok.Load())
			})
		}
	}
}

// With an IdempotencyKey, the library sends a change whose outcome is unknown again
// (UnknownOutcomeAttempts times), so nearly every request ends with a definite answer;
// the few still unknown are sent once more by the caller once the network heals, as the
// README advises. In the end the usage moved by exactly the number of requests.
func TestKeyedRequestsCountExactlyOnceUnderResends(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	const key = "keyed:{q}:usage"
	const start = int64(1_000_000)
	for _, adapter := range defaultClientCaches {
		for _, tc := range []struct {
			name string
			sign int64
			do   func(cache andromeda.Cache) andromeda.UpdateQuotaUsage
		}{
			{"add", 1, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)})
			}},
			{"reduce", -1, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaUsageKey: constKey(key)})
			}},
			{"hold reserve", 1, func(cache andromeda.Cache) andromeda.UpdateQuotaUsage {
				return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
					Cache: cache,
					Quota: andromeda.Quota{
						GetQuotaLimit:    constLimit(bigLimit),
						GetQuotaUsageKey: constKey(key),
					},
					HoldFor: time.Hour,
				}).Reserve
			}},
		} {
			t.Run(adapter.name+"/"+tc.name, func(t *testing.T) {
				rig := newResendRig(t, adapter.cache)
				require.NoError(t, rig.direct.Set(context.Background(), key, start, 0).Err())
				do := tc.do(rig.cache)
				request := func(i int) error {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_, err := do.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: fmt.Sprintf("order-%d", i)})
					return err
				}
				rig.proxy.SetDropRate(dropRate)
				o := drive(resendRequests, request)
				rig.proxy.SetDropRate(0)
				_, cut := rig.proxy.Stats()
				t.Logf("%d done, %d still unknown after the library's retries, %d unavailable; %d connections cut",
					o.ok.Load(), o.unknown.Load(), o.unavailable.Load(), cut)
				assert.Empty(t, o.untyped, "every error wraps ErrUnknownOutcome or ErrRedisUnavailable")
				// Without the retries about one in ten would stay unknown; with them a few do
				// (1 to 11 of 2,000 on a quiet machine), more when it is loaded.
				assert.Less(t, o.unknown.Load(), int64(resendRequests/40), "the library's retries settle nearly all")
				assert.Positive(t, cut, "the proxy must really have dropped replies")

				for i := range o.unknownIDs { // the caller retries what stayed unknown
					require.NoError(t, request(i))
				}
				assert.Equal(t, int64(resendRequests-int(o.unavailable.Load())), tc.sign*(rig.usage(t, key)-start),
					"usage moved once per request that succeeded")
			})
		}
	}
}

// When Redis cannot be reached nothing changes, and every error wraps a sentinel, soon.
// A port nobody listens on refuses the dial: nothing was sent, ErrRedisUnavailable. A
// proxy that closes each connection as soon as it opens: go-redis v9 fails its handshake
// before sending the script (ErrRedisUnavailable); v8 has no handshake, so the script was
// written before the close was seen, and from the client's side it may have run
// (ErrUnknownOutcome). rueidis and valkey-go connect when the client is built: the
// connection they hold is cut with the fault, and the adds written on it before the client
// sees the cut may have run from its side (ErrUnknownOutcome); the rest are refused at the
// dial (ErrRedisUnavailable).
func TestUnreachableRedisIsATypedError(t *testing.T) {
	redistest.Require(t)
	const key = "down:{q}:usage"
	for _, adapter := range defaultClientCaches {
		for _, fault := range []string{"closed at once", "refused"} {
			t.Run(adapter.name+"/"+fault, func(t *testing.T) {
				rig := newResendRig(t, adapter.cache)
				add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: rig.cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)})
				if fault == "refused" {
					rig.proxy.Close()
				} else {
					rig.proxy.Refuse(true)
					rig.proxy.CutAll() // the connections a client opened when it was built
				}
				started := time.Now()
				o := drive(16, func(i int) error {
					_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
					return err
				})
				elapsed := time.Since(started)
				assert.Empty(t, o.untyped)
				eager := adapter.name == "rueidis" || adapter.name == "valkey"
				if !eager && (fault == "refused" || adapter.name == "v9") {
					assert.Equal(t, int64(16), o.unavailable.Load(), "nothing was sent")
				} else {
					assert.Equal(t, int64(16), o.unavailable.Load()+o.unknown.Load())
				}
				assert.Zero(t, rig.usage(t, key), "nothing was applied")
				// The library's own retries take about a third of a second; a client's
				// dial timeouts and retries may add some. A bound far from "a minute".
				assert.Less(t, elapsed, 20*time.Second)
				t.Logf("16 adds failed (%d unavailable, %d unknown) in %v", o.unavailable.Load(), o.unknown.Load(), elapsed.Round(time.Millisecond))
			})
		}
	}
}
