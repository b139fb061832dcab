package specsample

import (
	"context"
	"errors"

	"github.com/ramadani/andromeda"
)

// VoucherDB is what the README's quick start asks of the application's database.
type VoucherDB interface {
	VoucherLimit(ctx context.Context, voucherID string) (int64, error)
	VoucherUsage(ctx context.Context, voucherID string) (int64, error)
}

// QuickStart is the README's quick start: one quota, plain functions, the limit kept in
// Redis. The code between the "quick start" markers is the README's, unchanged.
func QuickStart(cache andromeda.Cache, db VoucherDB) andromeda.UpdateQuotaUsage {
	// quick start
	claim := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache: cache, // redisv9.New(redis.NewClient(&redis.Options{Addr: "localhost:6379"}))
		GetQuotaLimit: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return db.VoucherLimit(ctx, req.QuotaID) // once, then kept in Redis (CacheLimit)
		}),
		GetQuotaUsage: andromeda.GetQuotaFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (int64, error) {
			return db.VoucherUsage(ctx, req.QuotaID) // once, under a lock, when Redis has no usage
		}),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(ctx context.Context, req *andromeda.QuotaRequest) (string, error) {
			return "voucher:" + req.QuotaID + ":usage", nil
		}),
		Option: andromeda.AddUsageOption{CacheLimit: true},
	})
	// end quick start
	return claim
}

// Claim outcomes, as the quick start's switch sorts them.
const (
	Claimed = "claimed"
	SoldOut = "sold out"
	Unknown = "unknown: retry with the same key"
	Failed  = "failed: nothing changed"
)

// ClaimOnce is the quick start's call and its error handling.
func ClaimOnce(ctx context.Context, claim andromeda.UpdateQuotaUsage, voucherID, claimID string) (string, int64) {
	// quick start call
	usage, err := claim.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: voucherID, Usage: 1, IdempotencyKey: claimID})
	switch {
	case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
		return SoldOut, 0 // nothing changed; the error carries the usage and limit
	case errors.Is(err, andromeda.ErrUnknownOutcome):
		return Unknown, 0 // may have counted: retry with the same claimID, it counts once
	case err != nil:
		return Failed, 0 // Redis down, database error...: nothing changed
	}
	// end quick start call
	return Claimed, usage
}
