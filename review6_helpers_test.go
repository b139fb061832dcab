package andromeda_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/require"
)

// review6Key is one key of a full dump: its type, its content and its TTL in ms (-1: none).
type review6Key struct {
	typ     string
	content string
	pttl    int64
}

// review6Dump is every key on the backend (every master of a cluster) with its content and TTL.
func review6Dump(t *testing.T, b backend) map[string]review6Key {
	t.Helper()
	ctx := context.Background()
	out := map[string]review6Key{}
	for _, key := range b.keys(t, "*") {
		typ, err := b.client.Type(ctx, key).Result()
		require.NoError(t, err)
		var content string
		switch typ {
		case "string":
			content = b.client.Get(ctx, key).Val()
		case "hash":
			m := b.client.HGetAll(ctx, key).Val()
			fields := make([]string, 0, len(m))
			for f, v := range m {
				fields = append(fields, f+"="+v)
			}
			sort.Strings(fields)
			content = fmt.Sprint(fields)
		case "list":
			content = fmt.Sprint(b.client.LRange(ctx, key, 0, -1).Val())
		}
		pttl := b.client.PTTL(ctx, key).Val()
		ms := int64(-1)
		if pttl > 0 {
			ms = pttl.Milliseconds()
		}
		out[key] = review6Key{typ: typ, content: content, pttl: ms}
	}
	return out
}

// review6SameDump fails unless after holds the same keys, types and contents as before,
// with the same TTLs (a TTL may only have run down, by at most slack).
func review6SameDump(t *testing.T, before, after map[string]review6Key, slack time.Duration, msg string) bool {
	t.Helper()
	ok := true
	for key, b := range before {
		a, found := after[key]
		if !found {
			t.Errorf("%s: key %q (%s %s) is gone", msg, key, b.typ, b.content)
			ok = false
			continue
		}
		if a.typ != b.typ || a.content != b.content {
			t.Errorf("%s: key %q changed: %s %s -> %s %s", msg, key, b.typ, b.content, a.typ, a.content)
			ok = false
		}
		switch {
		case (a.pttl < 0) != (b.pttl < 0):
			t.Errorf("%s: key %q TTL changed: %d ms -> %d ms", msg, key, b.pttl, a.pttl)
			ok = false
		case a.pttl >= 0 && (a.pttl > b.pttl || b.pttl-a.pttl > slack.Milliseconds()):
			t.Errorf("%s: key %q TTL changed: %d ms -> %d ms", msg, key, b.pttl, a.pttl)
			ok = false
		}
	}
	for key, a := range after {
		if _, found := before[key]; !found {
			t.Errorf("%s: new key %q: %s %s (TTL %d ms)", msg, key, a.typ, a.content, a.pttl)
			ok = false
		}
	}
	return ok
}

// review6Holds are holds on the usage at key with a fixed limit.
func review6Holds(b backend, key string, limit int64, holdFor time.Duration) andromeda.QuotaHolds {
	return andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, HoldFor: holdFor, Retention: time.Hour,
		Quota: andromeda.Quota{GetQuotaLimit: constLimit(limit), GetQuotaUsageKey: constKey(key)}})
}
