package andromeda_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
)

// Before a sale opens, its quotas are loaded into Redis, so that no buyer waits for a
// load: the same config as the sale's AddQuotaUsage, with a progress report.
func ExampleWarmQuotas() {
	client, stop := exampleRedis()
	defer stop()

	conf := andromeda.AddQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return 100, nil
		}),
		// What the database says was used so far.
		GetQuotaUsage: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return 3, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "sale:{" + req.QuotaID + "}:usage", nil
		}),
		GetQuotaUsageExpiration: andromeda.GetQuotaExpirationFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (time.Duration, error) {
			return 24 * time.Hour, nil
		}),
	}
	var quotas []andromeda.QuotaRequest
	for i := 1; i <= 1000; i++ {
		quotas = append(quotas, andromeda.QuotaRequest{QuotaID: fmt.Sprint("item-", i)})
	}
	err := andromeda.WarmQuotas(context.Background(), conf, quotas, andromeda.WarmOptions{
		Parallel: 32,
		Progress: func(p andromeda.WarmProgress) {
			if p.Done%250 == 0 {
				fmt.Printf("%d of %d warm, %d failed\n", p.Done, p.Total, p.Failed)
			}
		},
	})
	fmt.Println("warmed:", err == nil)
	usage, _ := client.Get(context.Background(), "sale:{item-7}:usage").Result()
	fmt.Println("item-7 usage in Redis:", usage)
	// Output:
	// 250 of 1000 warm, 0 failed
	// 500 of 1000 warm, 0 failed
	// 750 of 1000 warm, 0 failed
	// 1000 of 1000 warm, 0 failed
	// warmed: true
	// item-7 usage in Redis: 3
}
