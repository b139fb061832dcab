package main

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantee 8: "The keys the library keeps beside a usage (limit, idempotency records,
// holds, loader lock) share its hash slot for every key you may pass, a}b and {}x
// included". The operator command on those keys, on a real cluster and standalone: every
// subcommand must work on a quota the library made, and read or change the same keys the
// library uses.
func TestReview9CommandOnOddKeys(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		ctx := context.Background()
		for _, key := range []string{"a}b", "}", "{}x", "x}{y", "}{}", "{}", "a{b}c}d", "{a", "{tag}usage"} {
			t.Run(key, func(t *testing.T) {
				add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
					Cache: tg.cache,
					GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
						return 100, nil
					}),
					GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
						return 7, nil
					}),
					GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
						return key, nil
					}),
					Option: andromeda.AddUsageOption{CacheLimit: true},
				})
				_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 3, IdempotencyKey: "first"})
				require.NoError(t, err)
				tg.holdOn(t, key, "short", 2, 30*time.Millisecond)
				tg.holdOn(t, key, "long", 5, time.Hour)
				time.Sleep(100 * time.Millisecond)

				r := tg.cli("inspect", "-hold", "long", key)
				require.Equal(t, 0, r.code, r.stderr)
				assert.Regexp(t, `(?m)^usage\s+17\b`, r.stdout)
				assert.Regexp(t, `(?m)^limit\s+100\b`, r.stdout)
				assert.Regexp(t, `(?m)^remaining\s+83$`, r.stdout)
				assert.Regexp(t, `(?m)^holds\s+5 open, 2 expired`, r.stdout)

				r = tg.cli("release-expired", key)
				require.Equal(t, 0, r.code, r.stderr)
				assert.Contains(t, r.stdout, "usage now 15")

				r = tg.cli("set-limit", key, "16")
				require.Equal(t, 0, r.code, r.stderr)
				_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 2})
				assert.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "the add reads the limit set-limit wrote")
				_, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 1})
				assert.NoError(t, err)

				r = tg.cli("forget", key)
				require.Equal(t, 0, r.code, r.stderr)
				assert.Regexp(t, regexp.MustCompile(`forgot usage 16\b`), r.stdout)
				// Reloaded from the database (7), the hold forgotten with it, the record kept.
				usage, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 3, IdempotencyKey: "first"})
				require.NoError(t, err)
				assert.Equal(t, int64(10), usage, "a repeat replays its first outcome")
				usage, err = add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 1, IdempotencyKey: fmt.Sprint("after-", key)})
				require.NoError(t, err)
				assert.Equal(t, int64(8), usage, "reloaded from the database, without the forgotten hold")
				_, err = tg.holds(key, time.Hour).Commit.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 5, IdempotencyKey: "long"})
				assert.ErrorIs(t, err, andromeda.ErrHoldExpired)
			})
		}
	})
}
