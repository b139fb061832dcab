package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// README, Unknown outcomes: ErrUnknownOutcome is for "when the request was written and no
// reply came"; ErrRedisUnavailable / "nothing changed" otherwise. A Do whose context ends
// during one of its own steps before the script (here GetQuotaLimit, a database read that
// takes 50 ms against a 20 ms deadline and does not watch the context) never sends the
// script: go-redis refuses a command whose context has ended before writing it. With a
// default go-redis v9 client (ContextTimeoutEnabled false, so the adapter bounds the call
// itself) the Do says ErrUnknownOutcome, "may have been applied": the caller is told to
// reconcile a change that was never sent; without a key it cannot retry it safely.
func TestReview7ExpiredContextBeforeTheScriptIsNotAnUnknownOutcome(t *testing.T) {
	redistest.Require(t)
	server := redistest.Standalone(t)
	for _, contextAware := range []bool{false, true} {
		name := map[bool]string{false: "default client", true: "ContextTimeoutEnabled"}[contextAware]
		t.Run(name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: server.Addr, ContextTimeoutEnabled: contextAware})
			t.Cleanup(func() { client.Close() })
			b := backend{name: "standalone", real: true, client: client, cache: redisv9.New(client)}
			b.set(t, keyOf("late"), 3)
			add := newAdd(b, newQuotaDB(), func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
					time.Sleep(50 * time.Millisecond) // a slow database that does not watch ctx
					return 10, nil
				})
			})
			unknown := 0
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				_, err := add.Do(ctx, req("late", 1))
				cancel()
				require.Error(t, err)
				if errors.Is(err, andromeda.ErrUnknownOutcome) {
					if unknown == 0 {
						t.Logf("Do: %v", err)
					}
					unknown++
				}
			}
			assert.Equal(t, int64(3), b.get(t, keyOf("late")), "nothing was sent, nothing changed")
			assert.Zero(t, unknown, "ErrUnknownOutcome for a script that was never sent (%d of 20)", unknown)
		})
	}
}
