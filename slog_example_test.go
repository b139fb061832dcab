package andromeda_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
)

// Each Do is one log record: a change made at Debug, a refusal at Info, an unknown
// outcome at Warn, any other error at Error.
func ExampleSlogListener() {
	client, stop := exampleRedis()
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "error" {
				return slog.Attr{} // left out to keep this output stable and short
			}
			return a
		},
	}))
	claim := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return 10, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "voucher-quota-usage-" + req.QuotaID, nil
		}),
		Option: andromeda.AddUsageOption{Listener: andromeda.SlogListener{Logger: logger}},
	})

	ctx := context.Background()
	_, _ = claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "v-42", Usage: 4})
	_, _ = claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "v-42", Usage: 7})
	// Output:
	// level=DEBUG msg="andromeda add" quota=v-42 key=voucher-quota-usage-v-42 amount=4 usage=4 outcome=ok limit=10
	// level=INFO msg="andromeda add" quota=v-42 key=voucher-quota-usage-v-42 amount=7 usage=4 outcome=refused limit=10 cause=quota_limit_exceeded
}
