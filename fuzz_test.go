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

// Whatever the request, the limit and the stored value, Do does not panic, and either
// fails leaving the stored value as it was, or changes it by exactly the request.
func FuzzRequest(f *testing.F) {
	f.Add(true, int64(1), int64(10), "5", true)
	f.Add(false, int64(3), int64(10), "2", true)
	f.Add(true, int64(-1), int64(10), "", false)
	f.Add(true, int64(0), int64(-5), "abc", true)
	f.Add(false, int64(1)<<60, int64(1)<<62, "9007199254740993", true)
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
		if err != nil {
			var qerr *andromeda.QuotaError
			if !errors.As(err, &qerr) {
				t.Fatalf("error %v is not a *QuotaError", err)
			}
			if present && (after != before || (afterErr == nil) != (beforeErr == nil)) {
				t.Fatalf("failed with %v but changed %q to %q", err, before, after)
			}
			return
		}
		start := int64(0) // an absent key is loaded from the database's usage, 0
		if present {
			var perr error
			if start, perr = strconv.ParseInt(stored, 10, 64); perr != nil {
				t.Fatalf("succeeded on the non-integer %q", stored)
			}
		}
		want := start + usage
		if !isAdd {
			want = start - usage
		}
		if usage <= 0 || got != want || after != strconv.FormatInt(want, 10) {
			t.Fatalf("%d from %d: returned %d, stored %q, want %d", usage, start, got, after, want)
		}
		if isAdd && want > limit || !isAdd && want < 0 {
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
	const limit, dbUsage = 20, 6
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
