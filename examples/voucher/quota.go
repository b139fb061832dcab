package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ramadani/andromeda"
)

// usageKey is where Redis keeps a voucher's usage, as in the spec.
func usageKey(voucherID string) string { return fmt.Sprintf("voucher-quota-usage-%s", voucherID) }

var usageKeyOf = andromeda.GetQuotaKeyFunc(func(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
	return usageKey(req.QuotaID), nil
})

// limitKeptFor is how long Redis keeps a voucher's limit: a limit changed in the database
// alone is read again after it.
const limitKeptFor = time.Minute

// quotas wires the vouchers to andromeda, with the spec's tips built in: the limit is kept
// in Redis (Option.CacheLimit), so a claim reads it in the same script as the usage and
// not from the database; the usage is kept in Redis longer than the campaign runs.
type quotas struct {
	add, reduce andromeda.UpdateQuotaUsage
	limitReads  atomic.Int64 // database reads of a limit
}

func newQuotas(cache andromeda.Cache, s *store) *quotas {
	q := &quotas{}
	limit := andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
		q.limitReads.Add(1)
		v, err := s.FindByID(ctx, req.QuotaID)
		if err != nil {
			return 0, err
		}
		return v.Limit, nil
	})
	// The claims kept in the database are the usage it is sure of: exact even when the
	// usage column has not been synced since the last claims.
	usage := andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
		return s.countClaims(ctx, req.QuotaID)
	})
	// Keep the usage a day past the campaign's end, so the sync job still finds it.
	expiration := andromeda.GetQuotaExpirationFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (time.Duration, error) {
		v, err := s.FindByID(ctx, req.QuotaID)
		if err != nil {
			return 0, err
		}
		return max(time.Until(v.EndsAt), 0) + 24*time.Hour, nil
	})
	limitExpiration := andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) {
		return limitKeptFor, nil
	})
	q.add = andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:                   cache,
		GetQuotaLimit:           limit,
		GetQuotaUsage:           usage,
		GetQuotaUsageKey:        usageKeyOf,
		GetQuotaUsageExpiration: expiration,
		GetQuotaLimitExpiration: limitExpiration,
		Option:                  andromeda.AddUsageOption{CacheLimit: true},
	})
	q.reduce = andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
		Cache:                   cache,
		GetQuotaUsage:           usage,
		GetQuotaUsageKey:        usageKeyOf,
		GetQuotaUsageExpiration: expiration,
	})
	return q
}
