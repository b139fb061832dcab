package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// failoverEnv gates the failover and resharding tests: they start many servers and take
// a minute or more, so CI runs them as a step of their own.
const failoverEnv = "ANDROMEDA_FAILOVER"

// requireFailoverRun skips t unless ANDROMEDA_FAILOVER=1; once asked for, servers that
// cannot be started fail it under CI, as every real-Redis test does.
func requireFailoverRun(t *testing.T) {
	t.Helper()
	if os.Getenv(failoverEnv) != "1" {
		t.Skipf("set %s=1 to run the failover and resharding tests (they start about 20 redis-server processes and take about a minute)", failoverEnv)
	}
	redistest.Require(t)
}

// saleCounts are the outcomes of the adds of one phase of a sale.
type saleCounts struct {
	name                                        string
	acked, refused, unknown, unavailable, other atomic.Int64
}

func (c *saleCounts) String() string {
	return fmt.Sprintf("%d acknowledged, %d refused, %d unknown outcome, %d not run (unavailable), %d other errors",
		c.acked.Load(), c.refused.Load(), c.unknown.Load(), c.unavailable.Load(), c.other.Load())
}

// sale is a flash sale on one hot quota: workers add 1 with a fresh idempotency key each,
// until stopped. Every add that is acknowledged has its key remembered, so that the
// test can tell afterwards, one by one, which acknowledged adds Redis lost: their
// records, written by the same script as the add, are gone too.
type sale struct {
	t       *testing.T
	quota   string
	add     andromeda.UpdateQuotaUsage
	limit   atomic.Int64
	gate    sync.RWMutex // workers hold it for reading around each Do; close takes it
	phase   atomic.Pointer[saleCounts]
	total   saleCounts
	stopped chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	ackedKeys []string
	// notRunKeys are the keys of adds that failed with ErrRedisUnavailable.
	notRunKeys []string
	otherErrs  map[string]int // error text, numbers taken out, to count
	started    time.Time
}

// startSale starts workers adding to quota through cache, with a limit too high to reach
// until close sets one.
func startSale(t *testing.T, cache andromeda.Cache, quota string, workers int) *sale {
	s := &sale{t: t, quota: quota, stopped: make(chan struct{}), otherErrs: map[string]int{}, started: time.Now()}
	s.limit.Store(andromeda.MaxAmount)
	s.phase.Store(&saleCounts{name: "start"})
	s.add = andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache,
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return s.limit.Load(), nil
		}),
		// The usage lives in Redis only here: a usage key lost with a failover must show.
		GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return 0, fmt.Errorf("%w: the usage key was lost", andromeda.ErrQuotaNotFound)
		}),
		GetQuotaUsageKey:    usageKey,
		GetQuotaUsageConfig: andromeda.GetQuotaUsageConfig{MaxRetry: 1, RetryIn: time.Millisecond},
	})
	for w := 0; w < workers; w++ {
		s.wg.Add(1)
		go s.work(w)
	}
	return s
}

func (s *sale) work(worker int) {
	defer s.wg.Done()
	for n := 0; ; n++ {
		select {
		case <-s.stopped:
			return
		default:
		}
		s.gate.RLock()
		phase := s.phase.Load()
		key := fmt.Sprintf("%s/w%d-%d", phase.name, worker, n)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := s.add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: s.quota, Usage: 1, IdempotencyKey: key})
		cancel()
		s.count(phase, key, err)
		s.gate.RUnlock()
		if err != nil && !errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
			time.Sleep(5 * time.Millisecond) // do not spin on a dead server
		}
	}
}

func (s *sale) count(phase *saleCounts, key string, err error) {
	for _, c := range []*saleCounts{phase, &s.total} {
		switch {
		case err == nil:
			c.acked.Add(1)
		case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
			c.refused.Add(1)
		case errors.Is(err, andromeda.ErrUnknownOutcome):
			c.unknown.Add(1)
		case errors.Is(err, andromeda.ErrRedisUnavailable):
			c.unavailable.Add(1)
		default:
			c.other.Add(1)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.ackedKeys = append(s.ackedKeys, key)
	case errors.Is(err, andromeda.ErrRedisUnavailable) && !errors.Is(err, andromeda.ErrUnknownOutcome):
		s.notRunKeys = append(s.notRunKeys, key)
	case !isAny(err, []error{andromeda.ErrQuotaLimitExceeded, andromeda.ErrUnknownOutcome, andromeda.ErrRedisUnavailable}):
		s.otherErrs[errorShape(err)]++
	}
}

// errorShape is err's text with the numbers (ports, keys, counts) taken out, to group them.
func errorShape(err error) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, err.Error())
}

// newPhase starts counting the outcomes of a new phase, and returns its counts.
func (s *sale) newPhase(name string) *saleCounts {
	c := &saleCounts{name: name}
	s.phase.Store(c)
	return c
}

// closeSale sets the limit to what was acknowledged so far plus more, between two calls
// of every worker, as a shop that believes its own count: if acknowledged adds were lost,
// the sale then sells past the limit.
func (s *sale) closeSale(more int64) int64 {
	s.gate.Lock()
	defer s.gate.Unlock()
	limit := s.total.acked.Load() + more
	s.limit.Store(limit)
	return limit
}

// waitSoldOut waits until the adds are refused for the limit, or timeout passes.
func (s *sale) waitSoldOut(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		before := s.total.refused.Load()
		time.Sleep(100 * time.Millisecond)
		if s.total.refused.Load()-before > 50 {
			return
		}
	}
}

// stop stops the workers and waits for them.
func (s *sale) stop() {
	close(s.stopped)
	s.wg.Wait()
}

// lostAcked counts the acknowledged adds whose idempotency records are gone, by the phase
// they were made in: the adds Redis lost. Their records are written by the same script as
// the add, and kept for a day.
func (s *sale) lostAcked(t *testing.T, client redis.UniversalClient) map[string]int64 {
	t.Helper()
	s.mu.Lock()
	keys := append([]string{}, s.ackedKeys...)
	s.mu.Unlock()
	require.NotEmpty(t, keys, "nothing was acknowledged")
	lost, total := map[string]int64{}, int64(0)
	for i, found := range s.recorded(t, client, keys) {
		if !found {
			phase, _, _ := strings.Cut(keys[i], "/")
			lost[phase]++
			total++
		}
	}
	require.Less(t, total, int64(len(keys)), "no record found at all: has the record key's naming changed? (see recordKey in keys.go)")
	return lost
}

// appliedNotRun counts the adds that failed with ErrRedisUnavailable ("not run, nothing
// changed") but whose records exist: they were applied.
func (s *sale) appliedNotRun(t *testing.T, client redis.UniversalClient) int64 {
	t.Helper()
	s.mu.Lock()
	keys := append([]string{}, s.notRunKeys...)
	s.mu.Unlock()
	var applied int64
	for _, found := range s.recorded(t, client, keys) {
		if found {
			applied++
		}
	}
	return applied
}

// recorded reports, for each idempotency key, whether its add's record exists.
func (s *sale) recorded(t *testing.T, client redis.UniversalClient, keys []string) []bool {
	t.Helper()
	ctx := context.Background()
	found := make([]bool, 0, len(keys))
	for start := 0; start < len(keys); start += 1000 {
		end := min(start+1000, len(keys))
		cmds := make([]*redis.IntCmd, 0, end-start)
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[start:end] {
				cmds = append(cmds, p.Exists(ctx, addRecordKey(s.quota, k)))
			}
			return nil
		})
		require.NoError(t, err)
		for _, c := range cmds {
			found = append(found, c.Val() == 1)
		}
	}
	return found
}

// addRecordKey is where an add's idempotency record is kept (keys.go's recordKey, for
// usage keys with a hash tag, as keyOf gives).
func addRecordKey(quota, idempotencyKey string) string {
	return keyOf(quota) + ":idempotency:add:" + idempotencyKey
}

// otherErrors lists the errors that were neither a refusal nor a typed failure, most
// frequent first.
func (s *sale) otherErrors() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type shape struct {
		text string
		n    int
	}
	var shapes []shape
	for text, n := range s.otherErrs {
		shapes = append(shapes, shape{text, n})
	}
	sort.Slice(shapes, func(i, j int) bool { return shapes[i].n > shapes[j].n })
	var b strings.Builder
	for i, sh := range shapes {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ... %d more kinds", len(shapes)-5)
			break
		}
		fmt.Fprintf(&b, "\n  %d× %s", sh.n, sh.text)
	}
	return b.String()
}
