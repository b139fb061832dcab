package specsample

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/ramadani/andromeda"
)

// The README's snippets beyond the walk-through and the quick start, each compiled here
// as written (the README test checks that every Go block of the README is in this tree).

// UsageDB is the database of the README's write-back job.
type UsageDB interface {
	SetUsage(ctx context.Context, quotaID string, usage int64) error
}

// CampaignAndUser is the README's "Several quotas at once".
func CampaignAndUser(cache andromeda.Cache, campaignLimit, campaignUsage, perUserLimit andromeda.GetQuota,
	campaignKey, userKey andromeda.GetQuotaKey) andromeda.UpdateQuotaUsage {
	claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{
		Cache: cache,
		Quotas: []andromeda.Quota{
			{GetQuotaLimit: campaignLimit, GetQuotaUsage: campaignUsage, GetQuotaUsageKey: campaignKey}, // "{campaign-42}:usage"
			{GetQuotaLimit: perUserLimit, GetQuotaUsageKey: userKey},                                    // "{campaign-42}:user:7", from req.Data
		},
	})
	return claim
}

// RaiseLimit is the README's "The limit kept in Redis".
func RaiseLimit(ctx context.Context, cache andromeda.Cache) error {
	err := andromeda.SetQuotaLimit(ctx, cache, "voucher-quota-usage-42", 150, 0)
	return err
}

// WriteBack is the README's "Writing usage back to the database".
func WriteBack(ctx context.Context, cache andromeda.Cache, getVoucherQuotaUsageKey andromeda.GetQuotaKey, db UsageDB) error {
	quotas := []*andromeda.QuotaRequest{{QuotaID: "voucher-1"}, {QuotaID: "voucher-2"}}
	usages, err := andromeda.ReadCachedUsages(ctx, cache, getVoucherQuotaUsageKey, quotas)
	if err != nil {
		return err
	}
	for _, u := range usages {
		if u.Found { // not in Redis: write nothing, never a stale zero
			if err := db.SetUsage(ctx, u.QuotaID, u.Usage); err != nil {
				return err
			}
		}
	}
	return nil
}

// KeyedClaim is the README's "Counting once".
func KeyedClaim(voucherID, claimID string) *andromeda.QuotaUsageRequest {
	req := &andromeda.QuotaUsageRequest{QuotaID: voucherID, Usage: 1, IdempotencyKey: claimID}
	return req
}

// Checkout is the README's "Holds that expire".
func Checkout(ctx context.Context, cache andromeda.Cache, limit, usage andromeda.GetQuota, key andromeda.GetQuotaKey,
	orderID string, saveOrder func(ctx context.Context, orderID string) error) error {
	holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
		Cache:   cache,
		Quota:   andromeda.Quota{GetQuotaLimit: limit, GetQuotaUsage: usage, GetQuotaUsageKey: key},
		HoldFor: 10 * time.Minute,
	})
	order := &andromeda.QuotaUsageRequest{QuotaID: "sku-1", Usage: 2, IdempotencyKey: orderID}
	if _, err := holds.Reserve.Do(ctx, order); err != nil {
		return err // sold out (ErrQuotaLimitExceeded), or Redis down: nothing is held
	}
	if err := saveOrder(ctx, orderID); err != nil {
		_, _ = holds.Cancel.Do(ctx, order) // if this fails too, the hold expires after HoldFor
		return err
	}
	_, err := holds.Commit.Do(ctx, order)
	return err
}

// Forget is the README's "Operating a quota".
func Forget(ctx context.Context, cache andromeda.Cache) (int64, error) {
	usage, found, err := andromeda.ForgetUsage(ctx, cache, "voucher-quota-usage-42")
	if err != nil || !found {
		return 0, err
	}
	return usage, nil // the next change loads the usage from GetQuotaUsage
}

// StatusOf is the README's error handling after the walk-through's claim.
func StatusOf(err error) int {
	var qerr *andromeda.QuotaError
	if errors.As(err, &qerr) {
		log.Println(qerr.Key, qerr.Limit, qerr.Usage, qerr.Requested) // which quota, and why
	}
	if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
		return http.StatusConflict // sold out: nothing changed
	}
	if err != nil {
		return http.StatusServiceUnavailable
	}
	return http.StatusCreated
}
