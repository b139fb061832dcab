package andromeda_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/stretchr/testify/assert"
)

// downAfterAddCache cuts Redis off (the proxy refuses and cuts every connection) right
// after the first add script answers: the add found the usage missing, and the loader's
// lock is next.
type downAfterAddCache struct {
	andromeda.Cache
	proxy *faultproxy.Proxy
	once  atomic.Bool
}

func (c *downAfterAddCache) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	reply, err := c.Cache.RunScript(ctx, s, keys, args...)
	if s.SHA1() == addSHA && c.once.CompareAndSwap(false, true) {
		c.proxy.Refuse(true)
		c.proxy.CutAll()
	}
	return reply, err
}

// Probe. "A lock that cannot be taken because Redis is unreachable fails at once", and a
// Do on a cold key never says sold out for it, and tells the listener once. 16 callers of
// one cold key; Redis goes away between the add that found it missing and the lock (the
// database is not asked: the lock comes first). LockIn 3 s: "at once" is well under it.
func TestReview10ColdKeyLockWithRedisGoneFailsAtOnce(t *testing.T) {
	b, proxy := faultyBackend(t)
	db := newQuotaDB()
	db.put("cd", 100, 7)
	listener := &countingListener{}
	cache := &downAfterAddCache{Cache: b.cache, proxy: proxy}
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: db.limit(), GetQuotaUsage: db.usage(),
		GetQuotaUsageKey: usageKey, GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{LockIn: 3 * time.Second, MaxRetry: 10, RetryIn: 100 * time.Millisecond},
		Option: andromeda.AddUsageOption{Listener: listener}})
	const callers = 16
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	var slowest atomic.Int64
	start := time.Now()
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := add.Do(context.Background(), req("cd", 1))
			errs <- err
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed int
	for err := range errs {
		if err != nil {
			failed++
		}
		assert.False(t, errors.Is(err, andromeda.ErrQuotaLimitExceeded), "never sold out for an unreachable Redis: %v", err)
		assert.False(t, errors.Is(err, andromeda.ErrQuotaNotFound), "%v", err)
	}
	t.Logf("slowest %v; %d failed; database asked %d; listener %d ok %d errors", time.Duration(slowest.Load()).Round(time.Millisecond),
		failed, db.loads.Load(), listener.successes.Load(), listener.errors.Load())
	assert.Less(t, time.Duration(slowest.Load()), 1500*time.Millisecond, "fails at once, not after LockIn")
	assert.Equal(t, int64(callers), listener.successes.Load()+listener.errors.Load(), "one listener call per Do")
	proxy.Refuse(false)
}
