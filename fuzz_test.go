package andromeda_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

// fuzzBackend is one miniredis shared by every input of a fuzz target, emptied for each.
func fuzzBackend(f *testing.F) backend {
	m := miniredis.RunT(f)
	client := redis.NewClient(&redis.Options{Addr: m.Addr()})
	f.Cleanup(func() { client.Close() })
	return backend{name: "miniredis", client: client, cache: redisv9.New(client)}
}

// usageOf reads stored as the scripts do: a whole number from 0 to MaxAmount written the
// way INCRBY writes it, and nothing else.
func usageOf(stored string) (int64, bool) {
	n, err := strconv.ParseInt(stored, 10, 64)
	return n, err == nil && n >= 0 && n <= andromeda.MaxAmount && strconv.FormatInt(n, 10) == stored
}

// Whatever the request, the limit and the stored value, Do does not panic, and either
// fails leaving the stored value as it was, or changes it by exactly the request. A
// stored value that is not a usage always fails with ErrInvalidCachedUsage.
func FuzzRequest(f *testing.F) {
	f.Add(true, int64(1), int64(10), "5", true)
	f.Add(false, int64(3), int64(10), "2", true)
	f.Add(true, int64(-1), int64(10), "", false)
	f.Add(true, int64(0), int64(-5), "abc", true)
	f.Add(false, int64(1)<<60, int64(1)<<62, "9007199254740993", true)
	// Near 2^53, where doubles round: 2^53-1 + 2 must not fit a limit of 2^53.
	f.Add(true, int64(2), int64(andromeda.MaxAmount), "9007199254740991", true)
	f.Add(true, int64(1), int64(andromeda.MaxAmount), "9007199254740991", true)
	f.Add(true, int64(1), int64(andromeda.MaxAmount), "9007199254740992", true)
	f.Add(true, int64(andromeda.MaxAmount), int64(andromeda.MaxAmount), "", false)
	f.Add(true, int64(andromeda.MaxAmount+1), int64(andromeda.MaxAmount), "0", true)
	f.Add(false, int64(andromeda.MaxAmount), int64(0), "9007199254740991", true)
	f.Add(false, int64(andromeda.MaxAmount), int64(0), "9007199254740992", true)
	f.Add(true, int64(1), int64(10), "-5", true)
	f.Add(true, int64(1), int64(10), "05", true)
	f.Add(false, int64(1), int64(10), "-0", true)
	b := fuzzBackend(f)
	db := newQuotaDB()
	f.Fuzz(func(t *testing.T, isAdd bool, usage, limit int64, stored string, present bool) {
		ctx := context.Background()
		if err := b.client.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		db.put("q", limit, 0)
		if present {
			b.set(t, keyOf("q"), stored)
		}
		u := newReduce(b, db, nil)
		if isAdd {
			u = newAdd(b, db, nil)
		}
		before, beforeErr := b.client.Get(ctx, keyOf("q")).Result()

		got, err := u.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: usage})

		after, afterErr := b.client.Get(ctx, keyOf("q")).Result()
		start, valid := int64(0), true // an absent key is loaded from the database's usage, 0
		if present {
			start, valid = usageOf(stored)
		}
		if err != nil {
			var qerr *andromeda.QuotaError
			if !errors.As(err, &qerr) {
				t.Fatalf("error %v is not a *QuotaError", err)
			}
			if present && (after != before || (afterErr == nil) != (beforeErr == nil)) {
				t.Fatalf("failed with %v but changed %q to %q", err, before, after)
			}
			inRange := usage > 0 && usage <= andromeda.MaxAmount && (!isAdd || limit >= 0 && limit <= andromeda.MaxAmount)
			if !valid && inRange && !errors.Is(err, andromeda.ErrInvalidCachedUsage) {
				t.Fatalf("stored %q gave %v, want ErrInvalidCachedUsage", stored, err)
			}
			if valid && inRange && (isAdd && start <= limit-usage || !isAdd && start >= usage) {
				t.Fatalf("%d from %d (limit %d) fits, but failed: %v", usage, start, limit, err)
			}
			return
		}
		if !valid {
			t.Fatalf("succeeded on %q, which is not a usage", stored)
		}
		want := start + usage
		if !isAdd {
			want = start - usage
		}
		if usage <= 0 || got != want || after != strconv.FormatInt(want, 10) {
			t.Fatalf("%d from %d: returned %d, stored %q, want %d", usage, start, got, after, want)
		}
		if isAdd && want > limit || !isAdd && want < 0 || want > andromeda.MaxAmount {
			t.Fatalf("usage %d passed its bounds (limit %d)", want, limit)
		}
	})
}

// Random sequences of adds, reduces and expirations give exactly the outcomes of a
// reference model: a bounded counter whose missing value is reloaded from the database.
func FuzzSequence(f *testing.F) {
	f.Add([]byte{0x04, 0x05, 0x0e, 0x03, 0x24, 0xff, 0x02, 0x81})
	f.Add([]byte{0x1c, 0x1c, 0x1c, 0x1c, 0x1d, 0x1d, 0x1d, 0x1d, 0x1d, 0x1d})
	f.Add([]byte{0x02, 0x01, 0x00, 0x02, 0x03})
	fuzzSequence(f, 20, 6, 0)
}

// The same next to 2^53: the limit is MaxAmount, the database holds MaxAmount-20, and an
// amount of 7 in the program stands for MaxAmount-3, so that sums pass 2^53.
func FuzzSequenceAtMaxAmount(f *testing.F) {
	f.Add([]byte{0x04, 0x04, 0x04, 0x1c, 0x50, 0x10})
	f.Add([]byte{0x1e, 0x1c, 0x06, 0x1c, 0x1e, 0x1e, 0x1c})
	f.Add([]byte{0x4c, 0x4c, 0x4c, 0x08, 0x1c, 0x03, 0x1e, 0x1c})
	fuzzSequence(f, andromeda.MaxAmount, andromeda.MaxAmount-20, andromeda.MaxAmount-3)
}

// fuzzSequence runs programs against add and reduce: each byte is one step, whose low two
// bits say what (0, 1 add; 2 reduce; 3 the key expires) and whose next three bits how
// much (0 is an invalid request; 7 is big, when big is set).
func fuzzSequence(f *testing.F, limit, dbUsage, big int64) {
	b := fuzzBackend(f)
	db := newQuotaDB()
	db.put("q", limit, dbUsage)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	f.Fuzz(func(t *testing.T, program []byte) {
		ctx := context.Background()
		if err := b.client.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		present, usage := false, int64(0) // the model
		for step, instruction := range program {
			amount := int64(instruction>>2) % 8 // 0 is an invalid request
			if amount == 7 && big > 0 {
				amount = big
			}
			kind := instruction & 3
			if kind == 3 { // the key expires
				b.client.Del(ctx, keyOf("q"))
				present = false
				continue
			}
			base := usage
			if !present {
				base = dbUsage // the model reloads a missing value from the database
			}
			u, next, fits := add, base+amount, base+amount <= limit // kinds 0 and 1 add
			if kind == 2 {
				u, next, fits = reduce, base-amount, base-amount >= 0
			}
			got, err := u.Do(ctx, req("q", amount))
			switch {
			case amount == 0:
				if !errors.Is(err, andromeda.ErrInvalidRequest) {
					t.Fatalf("step %d: amount 0 gave %v", step, err)
				}
				continue // nothing loaded, nothing changed
			case fits:
				if err != nil || got != next {
					t.Fatalf("step %d: %d -> (%d, %v), want %d", step, amount, got, err, next)
				}
				usage = next
			default:
				if err == nil {
					t.Fatalf("step %d: %d admitted to %d, want refused", step, amount, got)
				}
				usage = base
			}
			present = true
			stored, err := b.client.Get(ctx, keyOf("q")).Int64()
			if err != nil || stored != usage {
				t.Fatalf("step %d: Redis holds %d (%v), model %d", step, stored, err, usage)
			}
		}
	})
}
