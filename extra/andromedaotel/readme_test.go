package andromedaotel_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/extra/andromedaotel"
)

// The README's wiring, compiled here.
func newClaim(cache andromeda.Cache, limit andromeda.GetQuota, key andromeda.GetQuotaKey) (andromeda.UpdateQuotaUsage, error) {
	otelListener, err := andromedaotel.NewListener() // to the global TracerProvider and MeterProvider
	if err != nil {
		return nil, err
	}
	return andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache, GetQuotaLimit: limit, GetQuotaUsageKey: key,
		Option: andromeda.AddUsageOption{Listener: andromeda.Listeners(otelListener, andromeda.SlogListener{})},
	}), nil
}

// The README's Observability snippet is newClaim above, so that it cannot drift.
func TestREADMEWiringIsCompiled(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Observability")
	if start < 0 {
		t.Fatal("the README has lost its Observability section")
	}
	block := regexp.MustCompile("(?s)```go\n(.*?)```").FindStringSubmatch(text[start:])
	if block == nil || !strings.Contains(string(self), block[1]) {
		t.Errorf("the README's Observability snippet is not newClaim in readme_test.go:\n%v", block)
	}

	server := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { client.Close() })
	claim, err := newClaim(redisv9.New(client),
		andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 1, nil }),
		andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return "u", nil }))
	if err != nil {
		t.Fatal(err)
	}
	if usage, err := claim.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "q", Usage: 1}); err != nil || usage != 1 {
		t.Errorf("Do = %d, %v; want 1, nil", usage, err)
	}
}
