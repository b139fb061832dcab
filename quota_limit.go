package andromeda

import (
	"context"
	"time"
)

// SetQuotaLimit changes the limit kept in Redis (AddUsageOption.CacheLimit) for the quota
// whose usage is at usageKey, in one call: adds after it are checked against the new
// limit. Raising it lets more in; lowering it below the current usage stops new adds and
// leaves the usage as it is. expiration is how long the limit is kept (0: no expiration).
// Change the limit in your database too, or GetQuotaLimit will bring the old one back
// when this one expires.
func SetQuotaLimit(ctx context.Context, cache Cache, usageKey string, limit int64, expiration time.Duration) error {
	switch {
	case usageKey == "":
		return invalid("empty usage key")
	case limit < 0 || limit > MaxAmount:
		return invalid("limit %d, want 0 to %d", limit, int64(MaxAmount))
	case expiration < 0:
		return invalid("expiration %v, want 0 or more", expiration)
	}
	return newStore(cache).SetValue(ctx, LimitKey(usageKey), limit, expiration)
}
