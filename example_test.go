package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

// exampleRedis starts an in-process Redis (miniredis) for the examples; any Redis works.
func exampleRedis() (*redis.Client, func()) {
	server := miniredis.NewMiniRedis()
	if err := server.Start(); err != nil {
		panic(err)
	}
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	return client, func() {
		client.Close()
		server.Close()
	}
}

// A voucher with 3 claims left: the fourth claim is refused and changes nothing.
func Example() {
	client, stop := exampleRedis()
	defer stop()

	// What the application's database says about voucher "v-42".
	const limit, usedSoFar = 10, 7

	claim := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return limit, nil
		}),
		// Called once, under a lock, when the usage is not in Redis yet.
		GetQuotaUsage: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return usedSoFar, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "voucher-quota-usage-" + req.QuotaID, nil
		}),
		GetQuotaUsageExpiration: andromeda.GetQuotaExpirationFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (time.Duration, error) {
			return 5 * time.Hour, nil
		}),
	})

	ctx := context.Background()
	for i := 0; i < 4; i++ {
		usage, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "v-42", Usage: 1})
		switch {
		case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
			fmt.Println("sold out:", err)
		case err != nil:
			fmt.Println("error:", err)
		default:
			fmt.Println("claimed, usage is now", usage)
		}
	}
	// Output:
	// claimed, usage is now 8
	// claimed, usage is now 9
	// claimed, usage is now 10
	// sold out: andromeda: add 1 to quota "v-42" (key "voucher-quota-usage-v-42"): quota limit exceeded (usage 10, limit 10)
}

// Giving usage back, e.g. when an order is cancelled. Usage never goes below zero.
func ExampleReduceQuotaUsage() {
	client, stop := exampleRedis()
	defer stop()
	_ = client.Set(context.Background(), "stock-sku-1", 3, 0).Err()

	release := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "stock-" + req.QuotaID, nil
		}),
	})

	usage, err := release.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 2})
	fmt.Println(usage, err)
	_, err = release.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 2})
	fmt.Println(errors.Is(err, andromeda.ErrInvalidMinQuotaUsage))
	// Output:
	// 1 <nil>
	// true
}

// A campaign's quota chained with each user's own quota (at most 2 each): when the
// user's quota is full, the campaign's claim is given back.
func ExampleAddQuotaUsageConfig_next() {
	client, stop := exampleRedis()
	defer stop()
	cache := redisv9.New(client)

	fixed := func(n int64) andromeda.GetQuota {
		return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
	}
	perUser := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache, GetQuotaLimit: fixed(2),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return req.QuotaID + ":user:" + req.Data.(string), nil // Data carries the user
		}),
	})
	campaign := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache, GetQuotaLimit: fixed(100),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return req.QuotaID + ":total", nil
		}),
		Next: perUser,
	})

	for i := 0; i < 3; i++ {
		_, err := campaign.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-1", Usage: 1, Data: "alice"})
		fmt.Println(err)
	}
	total, _ := client.Get(context.Background(), "campaign-1:total").Result()
	fmt.Println("campaign total:", total)
	// Output:
	// <nil>
	// <nil>
	// andromeda: add 1 to quota "campaign-1" (key "campaign-1:user:alice"): quota limit exceeded (usage 2, limit 2)
	// campaign total: 2
}

// Listeners are told how each Do ended, exactly once.
func ExampleListeners() {
	client, stop := exampleRedis()
	defer stop()

	logger := andromeda.ListenerFuncs{
		Success: func(ctx context.Context, req *andromeda.QuotaUsageRequest, usage int64) {
			fmt.Println("quota", req.QuotaID, "usage", usage)
		},
		Error: func(ctx context.Context, req *andromeda.QuotaUsageRequest, err error) {
			fmt.Println("quota", req.QuotaID, "refused:", errors.Is(err, andromeda.ErrQuotaLimitExceeded))
		},
	}
	seats := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return 5, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "seats-" + req.QuotaID, nil
		}),
		Option: andromeda.AddUsageOption{Listener: andromeda.Listeners(logger)},
	})
	_, _ = seats.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "room-1", Usage: 4})
	_, _ = seats.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "room-1", Usage: 4})
	// Output:
	// quota room-1 usage 4
	// quota room-1 refused: true
}

// A campaign of 100 vouchers with at most 2 per user, both counted in one atomic step.
// The keys share the hash tag {campaign-42}, so this works on a Redis Cluster too.
func ExampleAddMultiQuotaUsage() {
	client, stop := exampleRedis()
	defer stop()

	limit := func(n int64) andromeda.GetQuota {
		return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
	}
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{
		Cache: redisv9.New(client),
		Quotas: []andromeda.Quota{
			{GetQuotaLimit: limit(100), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(
				func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
					return "{" + req.QuotaID + "}:usage", nil
				})},
			{GetQuotaLimit: limit(2), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(
				func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
					return "{" + req.QuotaID + "}:user:" + req.Data.(string), nil
				})},
		},
	})
	for i := 0; i < 3; i++ {
		usage, err := claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"})
		fmt.Println(usage, err)
	}
	// Output:
	// 1 <nil>
	// 2 <nil>
	// 0 andromeda: add 1 to quota "campaign-42" (key "{campaign-42}:user:ann"): quota limit exceeded (usage 2, limit 2)
}

// The limit kept in Redis: read by the add's own script, changed with one call.
func ExampleSetQuotaLimit() {
	client, stop := exampleRedis()
	defer stop()
	cache := redisv9.New(client)

	key := andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
		return "stock:" + req.QuotaID, nil
	})
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache,
		// Asked only when Redis has no limit for the quota yet.
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
			return 1, nil
		}),
		GetQuotaUsageKey: key,
		Option:           andromeda.AddUsageOption{CacheLimit: true},
	})
	ctx := context.Background()
	sku := &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 1}
	_, err := add.Do(ctx, sku)
	fmt.Println(err)
	_, err = add.Do(ctx, sku)
	fmt.Println(errors.Is(err, andromeda.ErrQuotaLimitExceeded))

	// More stock arrived.
	_ = andromeda.SetQuotaLimit(ctx, cache, "stock:sku-1", 2, 0)
	usage, err := add.Do(ctx, sku)
	fmt.Println(usage, err)
	// Output:
	// <nil>
	// true
	// 2 <nil>
}

// The scheduled job that writes usage back to the database skips what Redis does not
// hold, so it never writes a stale zero.
func ExampleReadCachedUsages() {
	client, stop := exampleRedis()
	defer stop()
	_ = client.Set(context.Background(), "usage:v-1", 7, 0).Err()

	key := andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
		return "usage:" + req.QuotaID, nil
	})
	usages, err := andromeda.ReadCachedUsages(context.Background(), redisv9.New(client), key,
		[]*andromeda.QuotaRequest{{QuotaID: "v-1"}, {QuotaID: "v-2"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range usages {
		if !u.Found {
			fmt.Println(u.QuotaID, "not in Redis: leave the database as it is")
			continue
		}
		fmt.Println(u.QuotaID, "write", u.Usage) // UPDATE vouchers SET usage = ... WHERE id = ...
	}
	// Output:
	// v-1 write 7
	// v-2 not in Redis: leave the database as it is
}

// A two-phase claim: the quota is held while the order is written, then committed. Had
// the process died in between, the hold would have been released after HoldFor.
func ExampleNewQuotaHolds() {
	client, stop := exampleRedis()
	defer stop()

	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
		Cache: redisv9.New(client),
		Quota: andromeda.Quota{
			GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				return 3, nil
			}),
			GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
				return "stock:" + req.QuotaID, nil
			}),
		},
		HoldFor: 10 * time.Minute,
	})
	ctx := context.Background()
	order := &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 2, IdempotencyKey: "order-1001"}

	usage, err := holds.Reserve.Do(ctx, order)
	fmt.Println("held, usage", usage, err)
	_, err = holds.Reserve.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 2, IdempotencyKey: "order-1002"})
	fmt.Println("second order:", errors.Is(err, andromeda.ErrQuotaLimitExceeded))

	// ... the order is written to the database ...
	usage, err = holds.Commit.Do(ctx, order)
	fmt.Println("committed, usage", usage, err)
	usage, err = holds.Commit.Do(ctx, order) // a retry changes nothing
	fmt.Println("committed again, usage", usage, err)
	// Output:
	// held, usage 2 <nil>
	// second order: true
	// committed, usage 2 <nil>
	// committed again, usage 2 <nil>
}
