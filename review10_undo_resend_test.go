package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Guarantee 4 ("If Next fails, the change is undone") and "Unknown outcomes": the library
// resends a keyed change whose reply was lost only while "the record answers what
// happened the first time"; "Usage now never moves by more than the successes plus the
// unknown outcomes". reduce.lua: "An undo whose add's record is gone (expired or evicted)
// ... goes on as a reduce without a record and takes the amount back".
//
// So the undo of a keyed add whose record is gone has no record at all, yet retryUnknown
// still resends it on a lost reply (it looks only at the retention and at the time since
// the undo's own first send): the first send took the unit back, its reply was lost, the
// resend takes a second unit back. One claim of 1 undone, usage down by 2: someone else's
// claim is no longer counted, and the quota oversells by one.
//
// The record goes the two ways the script names: evicted (a volatile-* policy evicts the
// keys with an expiration, the records, first), or expired because Next ran longer than a
// short retention.
func TestReview10UndoWithoutRecordIsResentAndTakesTwo(t *testing.T) {
	for _, how := range []string{"evicted", "expired"} {
		t.Run(how, func(t *testing.T) {
			b := standaloneBackend(t)
			ctx := context.Background()
			const key = "ur:{q}:usage"
			b.set(t, key, 5) // five claims of others, kept
			cache := lostReplies(b, 0)
			retention := time.Hour
			if how == "expired" {
				retention = 300 * time.Millisecond
			}
			errNext := errors.New("claim insert failed")
			add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(key),
				Option: andromeda.AddUsageOption{IdempotencyRetention: retention},
				Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
					records, err := b.client.Keys(ctx, "*idempotency:add:claim-1*").Result()
					require.NoError(t, err)
					require.Len(t, records, 1)
					if how == "evicted" {
						require.NoError(t, b.client.Del(ctx, records[0]).Err())
					} else {
						time.Sleep(retention + 50*time.Millisecond)
					}
					cache.lose.Store(1) // the undo runs, its reply is lost
					return 0, errNext
				})})
			_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "claim-1"})
			t.Logf("err %v; %d sends of the undo and add; usage in Redis %d", err, cache.calls.Load(), b.get(t, key))
			require.ErrorIs(t, err, errNext)
			assert.GreaterOrEqual(t, b.get(t, key), int64(5), "an undone claim of 1 takes back at most its own unit")
			assert.Equal(t, int64(5), b.get(t, key), "undone once")
		})
	}
}

// The same for the put-back of a refund (a reduce with a key of its own) whose Next
// failed: add.lua, "With the record gone (expired or evicted) while its Do, which applied
// the reduce, puts it back, the amount goes back as a put-back without a record would".
// Its reply lost, the library resends it, and the refund of 1 is put back twice: usage one
// above what the claims count (a unit nobody holds is sold out: a false sold-out at the
// limit).
func TestReview10PutBackWithoutRecordIsResentAndAddsTwo(t *testing.T) {
	for _, how := range []string{"evicted", "expired"} {
		t.Run(how, func(t *testing.T) {
			b := standaloneBackend(t)
			ctx := context.Background()
			const key = "pr:{q}:usage"
			b.set(t, key, 5)
			cache := lostReplies(b, 0)
			retention := time.Hour
			if how == "expired" {
				retention = 300 * time.Millisecond
			}
			errNext := errors.New("refund row insert failed")
			refund := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(key),
				Option: andromeda.ReduceUsageOption{IdempotencyRetention: retention},
				Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
					records, err := b.client.Keys(ctx, "*idempotency:reduce:refund-1*").Result()
					require.NoError(t, err)
					require.Len(t, records, 1)
					if how == "evicted" {
						require.NoError(t, b.client.Del(ctx, records[0]).Err())
					} else {
						time.Sleep(retention + 50*time.Millisecond)
					}
					cache.lose.Store(1) // the put-back runs, its reply is lost
					return 0, errNext
				})})
			_, err := refund.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "refund-1"})
			t.Logf("err %v; %d sends; usage in Redis %d", err, cache.calls.Load(), b.get(t, key))
			require.ErrorIs(t, err, errNext)
			assert.LessOrEqual(t, b.get(t, key), int64(5), "a put-back of 1 adds at most its own unit")
			assert.Equal(t, int64(5), b.get(t, key), "put back once")
		})
	}
}

// ErrUndoFailed's wording. The same resent undo, on a quota whose only unit was this
// claim's: the first send takes it back (usage 0), its reply is lost, the resend finds
// usage 0 and is refused as below zero. Do then says "undoing the add ... also failed,
// so it is still counted" (ErrUndoFailed, and not ErrUnknownOutcome), while Redis shows
// the add undone: a caller that believes it and compensates takes back a unit it does
// not hold.
func TestReview10ResentUndoSaysStillCountedWhenItWasUndone(t *testing.T) {
	b := standaloneBackend(t)
	ctx := context.Background()
	const key = "uw:{q}:usage"
	b.set(t, key, 0)
	cache := lostReplies(b, 0)
	errNext := errors.New("claim insert failed")
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(100), GetQuotaUsageKey: constKey(key),
		Next: andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
			records, err := b.client.Keys(ctx, "*idempotency:add:claim-1*").Result()
			require.NoError(t, err)
			require.Len(t, records, 1)
			require.NoError(t, b.client.Del(ctx, records[0]).Err()) // evicted
			cache.lose.Store(1)
			return 0, errNext
		})})
	_, err := add.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1, IdempotencyKey: "claim-1"})
	t.Logf("err %v; usage in Redis %d", err, b.get(t, key))
	require.ErrorIs(t, err, errNext)
	require.Equal(t, int64(0), b.get(t, key), "the add was undone")
	if errors.Is(err, andromeda.ErrUndoFailed) {
		assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome, "an undo that was applied is not reported as failed for certain")
		assert.NotContains(t, err.Error(), "so it is still counted")
	}
}
