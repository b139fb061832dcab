package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var sharedCluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	sharedCluster.Stop()
	if code == 0 {
		// Every client is closed by now: whatever still runs was leaked.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// backend is a Redis the tests run against, with a client for looking at it directly.
type backend struct {
	name   string
	real   bool
	client redis.UniversalClient
	cache  andromeda.Cache
}

// get reads the integer at key, or -1 when it is absent.
func (b backend) get(t testing.TB, key string) int64 {
	t.Helper()
	raw, err := b.client.Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	require.NoError(t, err)
	n, err := strconv.ParseInt(raw, 10, 64)
	require.NoError(t, err)
	return n
}

func (b backend) set(t testing.TB, key string, value interface{}) {
	t.Helper()
	require.NoError(t, b.client.Set(context.Background(), key, value, 0).Err())
}

// flush empties the backend (every master of a cluster).
func (b backend) flush(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if c, ok := b.client.(*redis.ClusterClient); ok {
		require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return m.FlushAll(ctx).Err()
		}))
		return
	}
	require.NoError(t, b.client.FlushAll(ctx).Err())
}

func newBackend(t testing.TB, name string, client redis.UniversalClient, real bool) backend {
	t.Cleanup(func() { client.Close() })
	return backend{name: name, real: real, client: client, cache: redisv9.New(client)}
}

func miniredisBackend(t testing.TB) backend {
	m := miniredis.RunT(t)
	return newBackend(t, "miniredis", redis.NewClient(&redis.Options{Addr: m.Addr()}), false)
}

func standaloneBackend(t testing.TB) backend {
	s := redistest.Standalone(t)
	return newBackend(t, "standalone", redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 64}), true)
}

func clusterBackend(t testing.TB) backend {
	c := sharedCluster.Get(t)
	return newBackend(t, "cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), PoolSize: 64}), true)
}

type backendStarter struct {
	name  string
	start func(testing.TB) backend
}

var (
	miniredisStarter  = backendStarter{"miniredis", miniredisBackend}
	standaloneStarter = backendStarter{"standalone", standaloneBackend}
	clusterStarter    = backendStarter{"cluster", clusterBackend}
)

// eachBackend runs test on miniredis, a real standalone server and a real cluster.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	runOn(t, test, miniredisStarter, standaloneStarter, clusterStarter)
}

// eachRealBackend runs test on a real standalone server and a real cluster.
func eachRealBackend(t *testing.T, test func(t *testing.T, b backend)) {
	runOn(t, test, standaloneStarter, clusterStarter)
}

func runOn(t *testing.T, test func(t *testing.T, b backend), starters ...backendStarter) {
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) { test(t, s.start(t)) })
	}
}

// quotaDB stands in for the application's database of quotas.
type quotaDB struct {
	mu        sync.Mutex
	limits    map[string]int64
	usages    map[string]int64
	loadDelay time.Duration
	loads     atomic.Int64
}

func newQuotaDB() *quotaDB {
	return &quotaDB{limits: map[string]int64{}, usages: map[string]int64{}}
}

func (db *quotaDB) put(id string, limit, usage int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.limits[id], db.usages[id] = limit, usage
}

func (db *quotaDB) limit() andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(_ context.Context, req *andromeda.QuotaRequest) (int64, error) {
		db.mu.Lock()
		defer db.mu.Unlock()
		limit, ok := db.limits[req.QuotaID]
		if !ok {
			return 0, fmt.Errorf("quota %q: %w", req.QuotaID, andromeda.ErrQuotaNotFound)
		}
		return limit, nil
	})
}

func (db *quotaDB) usage() andromeda.GetQuota {
	return andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
		db.loads.Add(1)
		if db.loadDelay > 0 {
			select {
			case <-time.After(db.loadDelay):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		db.mu.Lock()
		defer db.mu.Unlock()
		usage, ok := db.usages[req.QuotaID]
		if !ok {
			return 0, fmt.Errorf("quota %q: %w", req.QuotaID, andromeda.ErrQuotaNotFound)
		}
		return usage, nil
	})
}

func keyOf(id string) string { return "quota:{" + id + "}:usage" }

var usageKey = andromeda.GetQuotaKeyFunc(func(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
	return keyOf(req.QuotaID), nil
})

func expireIn(d time.Duration) andromeda.GetQuotaExpiration {
	return andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) {
		return d, nil
	})
}

// fastRetry keeps tests that wait for loaders short.
var fastRetry = andromeda.GetQuotaUsageConfig{LockIn: time.Second, MaxRetry: 20, RetryIn: 10 * time.Millisecond}

func newAdd(b backend, db *quotaDB, change func(*andromeda.AddQuotaUsageConfig)) andromeda.UpdateQuotaUsage {
	conf := andromeda.AddQuotaUsageConfig{
		Cache:                   b.cache,
		GetQuotaLimit:           db.limit(),
		GetQuotaUsage:           db.usage(),
		GetQuotaUsageKey:        usageKey,
		GetQuotaUsageExpiration: expireIn(time.Hour),
		GetQuotaUsageConfig:     fastRetry,
	}
	if change != nil {
		change(&conf)
	}
	return andromeda.AddQuotaUsage(conf)
}

func newReduce(b backend, db *quotaDB, change func(*andromeda.ReduceQuotaUsageConfig)) andromeda.UpdateQuotaUsage {
	conf := andromeda.ReduceQuotaUsageConfig{
		Cache:                   b.cache,
		GetQuotaUsage:           db.usage(),
		GetQuotaUsageKey:        usageKey,
		GetQuotaUsageExpiration: expireIn(time.Hour),
		GetQuotaUsageConfig:     fastRetry,
	}
	if change != nil {
		change(&conf)
	}
	return andromeda.ReduceQuotaUsage(conf)
}

// countingListener counts the calls it gets.
type countingListener struct {
	successes, errors atomic.Int64
	lastUsage         atomic.Int64
	lastErr           atomic.Value
}

func (l *countingListener) OnSuccess(_ context.Context, _ *andromeda.QuotaUsageRequest, usage int64) {
	l.successes.Add(1)
	l.lastUsage.Store(usage)
}

func (l *countingListener) OnError(_ context.Context, _ *andromeda.QuotaUsageRequest, err error) {
	l.errors.Add(1)
	l.lastErr.Store(err)
}

func req(id string, usage int64) *andromeda.QuotaUsageRequest {
	return &andromeda.QuotaUsageRequest{QuotaID: id, Usage: usage}
}

// skipLongInShort skips one of the longest end-to-end runs under -short: .ci/run runs
// every test in its full pass and adds -short to its -race pass, where these would only
// repeat paths that other tests already take under the race detector.
func skipLongInShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a long end-to-end run: in the full pass, not the -short one")
	}
}
