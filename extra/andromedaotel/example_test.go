package andromedaotel_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/extra/andromedaotel"
)

// Every Do of a step whose listener is the Listener is a span, and counted. Here the
// spans go to an in-memory recorder; without options they go to the global providers
// (otel.SetTracerProvider, otel.SetMeterProvider).
func ExampleNewListener() {
	server := miniredis.NewMiniRedis()
	if err := server.Start(); err != nil {
		panic(err)
	}
	defer server.Close()
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	defer client.Close()
	spans := tracetest.NewSpanRecorder()
	tracing := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tracing.Shutdown(context.Background()) }()

	otelListener, err := andromedaotel.NewListener(andromedaotel.WithTracerProvider(tracing))
	if err != nil {
		panic(err)
	}
	claim := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return 10, nil
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "voucher-quota-usage-" + req.QuotaID, nil
		}),
		Option: andromeda.AddUsageOption{Listener: otelListener},
	})

	ctx := context.Background()
	_, _ = claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "v-42", Usage: 4})
	_, _ = claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: "v-42", Usage: 7})
	for _, span := range spans.Ended() {
		attrs := map[string]string{}
		for _, kv := range span.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		fmt.Println(strings.TrimSpace(fmt.Sprint(span.Name(), " ", attrs["andromeda.quota.key"], " ", attrs["andromeda.usage"],
			" ", attrs["andromeda.outcome"], " ", attrs["error.type"])))
	}
	// Output:
	// andromeda add voucher-quota-usage-v-42 4 ok
	// andromeda add voucher-quota-usage-v-42 4 refused quota_limit_exceeded
}
