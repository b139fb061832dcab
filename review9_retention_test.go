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
