package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/ramadani/andromeda"
)

// service is the spec's claim flow as a small service.
type service struct {
	store  *store
	cache  andromeda.Cache
	quotas *quotas
	// logf logs what clients are not shown (internal errors); nil: log.Printf.
	logf func(format string, args ...any)
}

// Claim records that userID claimed the voucher with code, if its quota allows.
//
// The history row is written first, inside a transaction, and the quota taken second: a
// user's second claim then stops at the unique constraint and never holds quota that
// another user could have had. If the quota is full the transaction rolls back; if the
// commit fails after the quota was taken, the quota is given back, as in the spec.
func (s *service) Claim(ctx context.Context, code, userID string) (*History, error) {
	voucher, err := s.store.FindByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	history := &History{ID: newID(), VoucherID: voucher.ID, UserID: userID, CreatedAt: time.Now().UTC()}
	// The claim's ID as idempotency key: an add whose reply was lost is retried with it and
	// counted once, and the compensating reduce below takes back exactly this claim's add.
	usageReq := andromeda.QuotaUsageRequest{QuotaID: voucher.ID, Usage: 1, IdempotencyKey: history.ID}

	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := insertHistory(ctx, tx, history); err != nil {
		return nil, err
	}
	if _, err := s.quotas.add.Do(ctx, &usageReq); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		// has error, do reverse usage quota
		if _, er := s.quotas.reduce.Do(context.WithoutCancel(ctx), &usageReq); er != nil {
			err = errors.Join(err, er)
		}
		return nil, err
	}
	return history, nil
}

// Unclaim removes userID's claim of the voucher and gives its quota back. The history is
// deleted and committed first, and the quota reduced after: once the reduce has freed the
// unit, another claim may take it at once, so the deletion must never be rolled back
// after it (two claims on one unit). If the reduce then fails, the claim is gone and its
// unit stays counted until the usage is next reloaded from the claims kept: a unit held
// back, never one sold twice.
func (s *service) Unclaim(ctx context.Context, code, userID string) (int64, error) {
	voucher, err := s.store.FindByCode(ctx, code)
	if err != nil {
		return 0, err
	}
	tx, err := s.store.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := deleteHistory(ctx, tx, voucher.ID, userID); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err // the claim is kept, and so is its unit
	}
	// A key of its own, so that a reduce whose reply was lost is retried and counted once;
	// a context that outlives the request, so that a client going away now does not leave
	// the deleted claim's unit counted.
	usageReq := andromeda.QuotaUsageRequest{QuotaID: voucher.ID, Usage: 1, IdempotencyKey: "unclaim-" + newID()}
	usage, err := s.quotas.reduce.Do(context.WithoutCancel(ctx), &usageReq)
	if err != nil {
		return 0, fmt.Errorf("%w: the claim was removed, but its unit may stay counted until the usage is reloaded: %w", errUnclaimedQuotaKept, err)
	}
	return usage, nil
}

// VoucherStatus is what GET /vouchers/{code} shows.
type VoucherStatus struct {
	Code      string    `json:"code"`
	Limit     int64     `json:"limit"`
	Usage     int64     `json:"usage"`
	Remaining int64     `json:"remaining"`
	EndsAt    time.Time `json:"ends_at"`
}

// Status reports a voucher's limit and usage: Redis's when it holds one, else the
// claims kept in the database.
func (s *service) Status(ctx context.Context, code string) (*VoucherStatus, error) {
	voucher, err := s.store.FindByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	byID := andromeda.GetQuotaKeyFunc(func(_ context.Context, q *andromeda.QuotaRequest) (string, error) { return usageKey(q.QuotaID), nil })
	cached, err := andromeda.ReadCachedUsages(ctx, s.cache, byID, []*andromeda.QuotaRequest{{QuotaID: voucher.ID}})
	if err != nil {
		return nil, err
	}
	usage := cached[0].Usage
	if !cached[0].Found {
		if usage, err = s.store.countClaims(ctx, voucher.ID); err != nil {
			return nil, err
		}
	}
	return &VoucherStatus{Code: voucher.Code, Limit: voucher.Limit, Usage: usage,
		Remaining: max(voucher.Limit-usage, 0), EndsAt: voucher.EndsAt}, nil
}

// syncUsage writes the usage Redis holds for every voucher back to the database: the
// spec's scheduled job. A voucher whose usage is not in Redis is left alone, so the job
// never writes a stale zero over real usage.
func (s *service) syncUsage(ctx context.Context) (synced int, err error) {
	ids, err := s.store.voucherIDs(ctx)
	if err != nil {
		return 0, err
	}
	vouchers := make([]*andromeda.QuotaRequest, len(ids))
	for i, id := range ids {
		vouchers[i] = &andromeda.QuotaRequest{QuotaID: id}
	}
	usages, err := andromeda.ReadCachedUsages(ctx, s.cache, usageKeyOf, vouchers)
	if err != nil {
		return 0, err
	}
	for _, u := range usages {
		if !u.Found {
			continue
		}
		if err := s.store.setUsage(ctx, u.QuotaID, u.Usage); err != nil {
			return synced, err
		}
		synced++
	}
	return synced, nil
}

// runSync runs syncUsage every interval until ctx ends.
func (s *service) runSync(ctx context.Context, interval time.Duration, logf func(string, ...any)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if n, err := s.syncUsage(ctx); err != nil {
				logf("sync usage: %v", err)
			} else {
				logf("synced the usage of %d vouchers", n)
			}
		}
	}
}

func newID() string {
	return rand.Text()
}
