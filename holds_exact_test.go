package andromeda_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Holds decide exactly up to MaxAmount (2^53), where Lua's doubles stop counting by one.
func TestHoldsExactAtTheBoundary(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const max = andromeda.MaxAmount
		db := newQuotaDB()
		db.put("sale", max, 0)
		holds := newHolds(b, db, time.Minute)
		ctx := context.Background()

		b.set(t, keyOf("sale"), int64(max-1))
		_, err := holds.Reserve.Do(ctx, idem("sale", 2, "two"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded, "2^53-1 + 2 passes 2^53")
		assert.Equal(t, int64(max-1), b.get(t, keyOf("sale")))
		usage, err := holds.Reserve.Do(ctx, idem("sale", 1, "one"))
		require.NoError(t, err)
		assert.Equal(t, int64(max), usage)
		_, err = holds.Reserve.Do(ctx, idem("sale", 1, "another"))
		require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
		usage, err = holds.Cancel.Do(ctx, idem("sale", 0, "one"))
		require.NoError(t, err)
		assert.Equal(t, int64(max-1), usage)

		b.set(t, keyOf("sale"), 0)
		usage, err = holds.Reserve.Do(ctx, idem("sale", max, "all"))
		require.NoError(t, err)
		assert.Equal(t, int64(max), usage)
		usage, err = holds.Commit.Do(ctx, idem("sale", 0, "all"))
		require.NoError(t, err)
		assert.Equal(t, int64(max), usage)
		assert.Equal(t, int64(max), b.get(t, keyOf("sale")))

		// Released by expiry, exactly.
		short := newHolds(b, db, 100*time.Millisecond)
		b.set(t, keyOf("sale"), 1)
		_, err = short.Reserve.Do(ctx, idem("sale", max-1, "big"))
		require.NoError(t, err)
		time.Sleep(250 * time.Millisecond)
		usage, err = short.Reserve.Do(ctx, idem("sale", max-1, "big-again"))
		require.NoError(t, err)
		assert.Equal(t, int64(max), usage)

		b.set(t, keyOf("sale"), "9007199254740993") // 2^53+1
		_, err = holds.Reserve.Do(ctx, idem("sale", 1, "beyond"))
		require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage)
		assert.Contains(t, err.Error(), "9007199254740993")
	})
}

// A value someone else wrote where the holds keep theirs is reported, never trusted, and
// the call changes nothing.
func TestHoldsReportForeignValues(t *testing.T) {
	usage := keyOf("sale")
	buckets, holdKey := andromeda.HoldKeys(usage, "h1")
	cases := []struct {
		name    string
		write   func(t *testing.T, b backend)
		key     string // named in the error
		mention string // and so is this
	}{
		{"negative usage", func(t *testing.T, b backend) { b.set(t, usage, "-5") }, usage, `"-5"`},
		{"leading zero", func(t *testing.T, b backend) { b.set(t, usage, "05") }, usage, `"05"`},
		{"minus zero", func(t *testing.T, b backend) { b.set(t, usage, "-0") }, usage, `"-0"`},
		{"beyond 2^53", func(t *testing.T, b backend) { b.set(t, usage, "9007199254740993") }, usage, "9007199254740993"},
		{"a fraction", func(t *testing.T, b backend) { b.set(t, usage, "1.5") }, usage, "1.5"},
		{"text", func(t *testing.T, b backend) { b.set(t, usage, "many") }, usage, "many"},
		{"usage is a hash", func(t *testing.T, b backend) {
			require.NoError(t, b.client.HSet(context.Background(), usage, "f", "1").Err())
		}, usage, "hash"},
		{"usage is a list", func(t *testing.T, b backend) {
			require.NoError(t, b.client.RPush(context.Background(), usage, "1").Err())
		}, usage, "list"},
		{"buckets are a string", func(t *testing.T, b backend) {
			b.set(t, usage, 3)
			b.set(t, buckets, "x")
		}, buckets, "string"},
		{"buckets hold a stranger", func(t *testing.T, b backend) {
			b.set(t, usage, 3)
			require.NoError(t, b.client.HSet(context.Background(), buckets, "epoch", "1", "next", "1", "soon", "2").Err())
		}, buckets, "soon=2"},
		{"bucket sum is not a number", func(t *testing.T, b backend) {
			b.set(t, usage, 3)
			require.NoError(t, b.client.HSet(context.Background(), buckets, "epoch", "1", "next", "1", "1", "-2").Err())
		}, buckets, "1=-2"},
		{"hold record is a string", func(t *testing.T, b backend) {
			b.set(t, usage, 3)
			b.set(t, holdKey, "active")
		}, holdKey, "string"},
		{"hold record of another shape", func(t *testing.T, b backend) {
			b.set(t, usage, 3)
			require.NoError(t, b.client.HSet(context.Background(), holdKey, "state", "lost", "amount", "1", "ends", "1", "epoch", "1").Err())
		}, holdKey, "state=lost"},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		db.put("sale", 10, 0)
		holds := newHolds(b, db, time.Minute)
		ctx := context.Background()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				b.flush(t)
				tc.write(t, b)
				before := snapshot(t, b, usage, buckets, holdKey)
				for i, op := range []andromeda.UpdateQuotaUsage{holds.Reserve, holds.Commit, holds.Cancel} {
					_, err := op.Do(ctx, idem("sale", 1, "h1"))
					require.ErrorIs(t, err, andromeda.ErrInvalidCachedUsage, "op %d", i)
					assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.key))
					assert.Contains(t, err.Error(), tc.mention)
					assert.Equal(t, before, snapshot(t, b, usage, buckets, holdKey), "op %d changed nothing", i)
				}
			})
		}
	})
}

// snapshot describes the type and content of keys.
func snapshot(t *testing.T, b backend, keys ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, key := range keys {
		typ, err := b.client.Type(ctx, key).Result()
		require.NoError(t, err)
		var content any
		switch typ {
		case "string":
			content = b.client.Get(ctx, key).Val()
		case "hash":
			content = b.client.HGetAll(ctx, key).Val()
		case "list":
			content = b.client.LRange(ctx, key, 0, -1).Val()
		}
		out = append(out, fmt.Sprint(key, " ", typ, " ", content))
	}
	return out
}
