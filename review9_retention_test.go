package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantee 10: "with an IdempotencyKey the library retries it with the same key until it
// knows", and a retried change "counts once". The library's own retry waits 20 ms (then
// 40 ms) before resending; Option.IdempotencyRetention accepts any positive duration, and
// the record of the first attempt is kept only that long. With a retention shorter than
// the library's own backoff, one Do whose first reply was lost is applied twice by the
// library itself, and reported as a success: usage +2 for one claim of 1. Nothing in the
// README's sizing rule ("the longest time your retries can take") tells the user that the
// library's own retries need the record too, and the constructor takes the value.
func TestReview9LibraryRetryOutlivesAShortRetention(t *testing.T) {
	b := standaloneBackend(t)
	for _, retention := range []time.Duration{5 * time.Millisecond, 15 * time.Millisecond} {
		t.Run(retention.String(), func(t *testing.T) {
			b.flush(t)
			cache := lostReplies(b, 1) // the first attempt is applied, its reply lost
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey("ret:{q}:usage"),
				Option: andromeda.AddUsageOption{IdempotencyRetention: retention}})
			usage, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "order-1"})
			t.Logf("retention %v: Do returned usage %d, err %v; %d sends; usage in Redis %d", retention, usage, err, cache.calls.Load(), b.get(t, "ret:{q}:usage"))
			require.NoError(t, err, "the library settled the lost reply itself")
			assert.Equal(t, int64(1), b.get(t, "ret:{q}:usage"), "one Do of 1 with a key, counted once")
		})
	}
}

// "Counting once: idempotency keys": "Set IdempotencyKey (an order ID, a claim ID) and the
// change applies at most once", and Guarantee 10: "with an IdempotencyKey the library
// retries it with the same key until it knows". The README's own "common case" for
// AddMultiQuotaUsage (a campaign's quota and each user's) is a claim like any other, and
// nowhere does the README say it cannot carry a key; yet a keyed request is refused as
// invalid, so a claim whose reply was lost (ErrUnknownOutcome) on several quotas has no
// way to be counted once.
func TestReview9SeveralQuotasTakeAnIdempotencyKey(t *testing.T) {
	b := standaloneBackend(t)
	cache := lostReplies(b, 1) // the first attempt is applied, its reply lost
	multi := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: cache, Quotas: []andromeda.Quota{
		{GetQuotaLimit: constLimit(50), GetQuotaUsageKey: constKey("{campaign-42}:usage")},
		{GetQuotaLimit: constLimit(2), GetQuotaUsageKey: constKey("{campaign-42}:user:7")},
	}})
	_, err := multi.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, IdempotencyKey: "claim-1"})
	t.Logf("keyed claim on several quotas: %v", err)
	assert.NoError(t, err, "a keyed claim on several quotas is settled like any keyed claim")
	assert.Equal(t, int64(1), b.get(t, "{campaign-42}:usage"))
	assert.Equal(t, int64(1), b.get(t, "{campaign-42}:user:7"))
}
