// Package specsample is the spec's walk-through assembled as written: its setup code and
// its claim flow, unchanged between the "spec" markers, so that tests can prove the
// samples compile against andromeda and behave as the spec describes.
package specsample

import (
	"context"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/specsample/internal"
	"github.com/ramadani/andromeda/internal/specsample/uuid"
)

// Voucher and VoucherRepository are the spec's, re-exported for tests outside this tree.
type (
	Voucher           = internal.Voucher
	VoucherRepository = internal.VoucherRepository
)

// History records one claim of a voucher.
type History struct {
	ID        string
	VoucherID string
	UserID    string
	CreatedAt time.Time
}

// HistoryRepository stores claim histories.
type HistoryRepository interface {
	Create(ctx context.Context, history *History) error
}

// Usages builds the add and reduce of the spec's first setup sample.
func Usages(voucherRepo internal.VoucherRepository, cacheRedis andromeda.Cache) (add, reduce andromeda.UpdateQuotaUsage) {
	// spec
	keyUsageFormat := "voucher-quota-usage-%s"
	getVoucherQuotaLimit := internal.NewGetVoucherQuotaLimit(voucherRepo)
	getVoucherQuotaUsage := internal.NewGetVoucherQuotaUsage(voucherRepo)
	getVoucherQuotaUsageKey := internal.NewGetVoucherQuotaUsageKey(keyUsageFormat)
	getVoucherQuotaUsageExpiration := internal.NewGetVoucherQuotaUsageExpiration()

	getVoucherQuotaUsageConf := andromeda.GetQuotaUsageConfig{
		LockIn:   time.Second * 3,
		MaxRetry: 10,
		RetryIn:  time.Millisecond * 100,
	}

	addVoucherUsage := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:                   cacheRedis,
		GetQuotaLimit:           getVoucherQuotaLimit,
		GetQuotaUsage:           getVoucherQuotaUsage,
		GetQuotaUsageKey:        getVoucherQuotaUsageKey,
		GetQuotaUsageExpiration: getVoucherQuotaUsageExpiration,
		GetQuotaUsageConfig:     getVoucherQuotaUsageConf,
	})

	reduceVoucherUsage := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
		Cache:                   cacheRedis,
		GetQuotaUsage:           getVoucherQuotaUsage,
		GetQuotaUsageKey:        getVoucherQuotaUsageKey,
		GetQuotaUsageExpiration: getVoucherQuotaUsageExpiration,
		GetQuotaUsageConfig:     getVoucherQuotaUsageConf,
	})
	// end spec
	return addVoucherUsage, reduceVoucherUsage
}

// UsagesWithListener builds the add and reduce of the spec's listener sample.
func UsagesWithListener(voucherRepo internal.VoucherRepository, cacheRedis andromeda.Cache) (add, reduce andromeda.UpdateQuotaUsage) {
	keyUsageFormat := "voucher-quota-usage-%s"
	getVoucherQuotaLimit := internal.NewGetVoucherQuotaLimit(voucherRepo)
	getVoucherQuotaUsage := internal.NewGetVoucherQuotaUsage(voucherRepo)
	getVoucherQuotaUsageKey := internal.NewGetVoucherQuotaUsageKey(keyUsageFormat)
	getVoucherQuotaUsageExpiration := internal.NewGetVoucherQuotaUsageExpiration()
	getVoucherQuotaUsageConf := andromeda.GetQuotaUsageConfig{}

	// spec
	updateVoucherQuotaUsageListener := internal.NewUpdateVoucherQuotaUsageListener()

	addVoucherUsage := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:                   cacheRedis,
		GetQuotaLimit:           getVoucherQuotaLimit,
		GetQuotaUsage:           getVoucherQuotaUsage,
		GetQuotaUsageKey:        getVoucherQuotaUsageKey,
		GetQuotaUsageExpiration: getVoucherQuotaUsageExpiration,
		GetQuotaUsageConfig:     getVoucherQuotaUsageConf,
		Option: andromeda.AddUsageOption{
			Listener: updateVoucherQuotaUsageListener,
		},
	})

	reduceVoucherUsage := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{
		Cache:                   cacheRedis,
		GetQuotaUsage:           getVoucherQuotaUsage,
		GetQuotaUsageKey:        getVoucherQuotaUsageKey,
		GetQuotaUsageExpiration: getVoucherQuotaUsageExpiration,
		GetQuotaUsageConfig:     getVoucherQuotaUsageConf,
		Option: andromeda.ReduceUsageOption{
			Listener: updateVoucherQuotaUsageListener,
		},
	})
	// end spec
	return addVoucherUsage, reduceVoucherUsage
}

// ClaimVoucher is the spec's claim flow.
type ClaimVoucher = claimVoucher

type claimVoucher struct {
	voucherRepo        internal.VoucherRepository
	historyRepo        HistoryRepository
	addVoucherUsage    andromeda.UpdateQuotaUsage
	reduceVoucherUsage andromeda.UpdateQuotaUsage
}

// NewClaimVoucher assembles the spec's claim flow.
func NewClaimVoucher(voucherRepo internal.VoucherRepository, historyRepo HistoryRepository, add, reduce andromeda.UpdateQuotaUsage) *ClaimVoucher {
	return &claimVoucher{voucherRepo: voucherRepo, historyRepo: historyRepo, addVoucherUsage: add, reduceVoucherUsage: reduce}
}

// spec

func (c *claimVoucher) Do(ctx context.Context, code, userID string) (*History, error) {
	voucher, err := c.voucherRepo.FindByCode(ctx, code)
	if err != nil {
		return nil, err
	}

	history := &History{
		ID:        uuid.NewV4().String(),
		VoucherID: voucher.ID,
		UserID:    userID,
		CreatedAt: time.Now(),
	}

	usageReq := andromeda.QuotaUsageRequest{
		QuotaID: voucher.ID,
		Usage:   1,
	}

	if _, err = c.addVoucherUsage.Do(ctx, &usageReq); err != nil {
		return nil, err
	}

	if err = c.historyRepo.Create(ctx, history); err == nil {
		return history, nil
	}

	// has error, do reverse usage quota
	if _, er := c.reduceVoucherUsage.Do(ctx, &usageReq); er != nil {
		err = er
	}

	return nil, err
}

// end spec
