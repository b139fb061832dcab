package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Redis that hangs (SIGSTOP: it accepts nothing new and answers nothing) while callers
// carry a 200 ms deadline: every Do must end near its deadline with a typed error, on
// clients built with default options (promise 7: every Redis call honours the context).
//
// Failed for v9 before the adapter bounded each change by its context itself: go-redis v9 ignores the context's deadline unless the client sets
// ContextTimeoutEnabled, so with default options each Do waits out the client's read
// timeout: measured 5.0 s, 25 times its deadline (ErrUnknownOutcome, typed). v8 holds:
// 201 ms (it reads with the context's deadline). The redisv9 package doc says to set
// ContextTimeoutEnabled; a default client still breaks the promise.
func TestFrozenRedisHonoursDeadline(t *testing.T) {
	redistest.Require(t)
	const key = "frozen:{q}:usage"
	for _, adapter := range defaultClientCaches {
		t.Run(adapter.name, func(t *testing.T) {
			server := redistest.Standalone(t)
			cache := adapter.cache(t, server.Addr)
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(bigLimit), GetQuotaUsageKey: constKey(key)})
			_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1}) // warm: connection and script
			require.NoError(t, err)
			require.NoError(t, server.Pause())
			t.Cleanup(func() { _ = server.Resume() })

			const deadline = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			started := time.Now()
			_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1})
			elapsed := time.Since(started)
			t.Logf("Do against a frozen Redis with a %v deadline: %v, %v", deadline, elapsed.Round(time.Millisecond), err)
			require.Error(t, err)
			assert.True(t, errors.Is(err, andromeda.ErrUnknownOutcome) || errors.Is(err, andromeda.ErrRedisUnavailable) || errors.Is(err, context.DeadlineExceeded), "typed: %v", err)
			assert.Less(t, elapsed, 5*deadline, "Do ends near its deadline")
			require.NoError(t, server.Resume())
		})
	}
}
