package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ramadani/andromeda"
	"golang.org/x/sync/singleflight"
)

// usageKey is where Redis keeps a voucher's usage, as in the spec.
func usageKey(voucherID string) string { return fmt.Sprintf("voucher-quota-usage-%s", voucherID) }

// quotas wires the vouchers to andromeda, with the spec's tips built in: the limit is
// read from memory, not the database, on every claim; the usage is kept in Redis longer
// than the campaign runs.
type quotas struct {
	add, reduce andromeda.UpdateQuotaUsage
	limits      *limitCache
}

func newQuotas(cache andromeda.Cache, s *store) *quotas {
	limits := &limitCache{ttl: 30 * time.Second, load: func(ctx context.Context, id string) (int64, error) {
		v, err := s.FindByID(ctx, id)
		if err != nil {
			return 0, err
		}
		return v.Limit, nil
	}}
	// The claims kept in the database are the usage it is sure of: exact even when the
	// usage column has not been synced since the last claims.
	usage := andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
		return s.countClaims(ctx, req.QuotaID)
	})
	key := andromeda.GetQuotaKeyFunc(func(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
		return usageKey(req.QuotaID), nil
	})
	// Keep the usage a day past the campaign's end, so the sync job still finds it.
	expiration := andromeda.GetQuotaExpirationFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (time.Duration, error) {
		v, err := s.FindByID(ctx, req.QuotaID)
		if err != nil {
			return 0, err
		}
		return max(time.Until(v.EndsAt), 0) + 24*time.Hour, nil
	})
	return &quotas{
		limits: limits,
		add: andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
			Cache:                   cache,
			GetQuotaLimit:           andromeda.GetQuotaFunc(limits.get),
			GetQuotaUsage:           usage,
			GetQuotaUsageKey:        key,
			GetQuotaUsageExpiration: expiration,
		}),
		reduce: andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
			Cache:                   cache,
			GetQuotaUsage:           usage,
			GetQuotaUsageKey:        key,
			GetQuotaUsageExpiration: expiration,
		}),
	}
}

// limitCache keeps each voucher's limit in memory for ttl, loading a missing one once.
type limitCache struct {
	ttl   time.Duration
	load  func(ctx context.Context, voucherID string) (int64, error)
	loads sync.Map // voucherID -> limitEntry
	group singleflight.Group
}

type limitEntry struct {
	limit    int64
	loadedAt time.Time
}

func (c *limitCache) get(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
	if e, ok := c.loads.Load(req.QuotaID); ok && time.Since(e.(limitEntry).loadedAt) < c.ttl {
		return e.(limitEntry).limit, nil
	}
	limit, err, _ := c.group.Do(req.QuotaID, func() (interface{}, error) {
		limit, err := c.load(ctx, req.QuotaID)
		if err == nil {
			c.loads.Store(req.QuotaID, limitEntry{limit: limit, loadedAt: time.Now()})
		}
		return limit, err
	})
	if err != nil {
		return 0, err
	}
	return limit.(int64), nil
}
