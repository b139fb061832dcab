package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/specsample"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type voucherRepo struct{ voucher specsample.Voucher }

func (r *voucherRepo) FindByID(_ context.Context, id string) (*specsample.Voucher, error) {
	if id != r.voucher.ID {
		return nil, andromeda.ErrQuotaNotFound
	}
	v := r.voucher
	return &v, nil
}

func (r *voucherRepo) FindByCode(_ context.Context, code string) (*specsample.Voucher, error) {
	if code != r.voucher.Code {
		return nil, andromeda.ErrQuotaNotFound
	}
	v := r.voucher
	return &v, nil
}

var errInsert = errors.New("insert history failed")

// historyRepo fails one insert in every four.
type historyRepo struct {
	calls atomic.Int64
	mu    sync.Mutex
	kept  []*specsample.History
}

func (r *historyRepo) Create(_ context.Context, h *specsample.History) error {
	if r.calls.Add(1)%4 == 0 {
		return errInsert
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kept = append(r.kept, h)
	return nil
}

// The spec's claim flow, run as written, with one history insert in four failing: the
// compensating reduce leaves usage equal to the initial usage plus the histories kept.
func TestSpecClaimFlowKeepsUsageEqualToHistories(t *testing.T) {
	for _, withListener := range []bool{false, true} {
		t.Run(fmt.Sprint("listener=", withListener), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				vouchers := &voucherRepo{voucher: specsample.Voucher{ID: "v-1", Code: "HEMAT", Limit: 300, Usage: 20}}
				histories := &historyRepo{}
				build := specsample.Usages
				if withListener {
					build = specsample.UsagesWithListener
				}
				add, reduce := build(vouchers, b.cache)
				claim := specsample.NewClaimVoucher(vouchers, histories, add, reduce)

				var soldOut, insertFailed atomic.Int64
				var wg sync.WaitGroup
				sem := make(chan struct{}, 32)
				for i := 0; i < 600; i++ {
					wg.Add(1)
					sem <- struct{}{}
					go func(user string) {
						defer func() { <-sem; wg.Done() }()
						_, err := claim.Do(context.Background(), "HEMAT", user)
						switch {
						case err == nil:
						case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
							soldOut.Add(1)
						case errors.Is(err, errInsert):
							insertFailed.Add(1)
						default:
							t.Error(err)
						}
					}(fmt.Sprint("user-", i))
				}
				wg.Wait()

				kept := int64(len(histories.kept))
				assert.Equal(t, 20+kept, b.get(t, "voucher-quota-usage-v-1"))
				assert.LessOrEqual(t, kept, int64(280))
				assert.Positive(t, insertFailed.Load())
				assert.Positive(t, soldOut.Load())
				assert.Equal(t, int64(600), kept+soldOut.Load()+insertFailed.Load())
			})
		})
	}
}

func TestSpecClaimUnknownCode(t *testing.T) {
	b := miniredisBackend(t)
	vouchers := &voucherRepo{voucher: specsample.Voucher{ID: "v-1", Code: "HEMAT", Limit: 3}}
	add, reduce := specsample.Usages(vouchers, b.cache)
	claim := specsample.NewClaimVoucher(vouchers, &historyRepo{}, add, reduce)
	_, err := claim.Do(context.Background(), "NOPE", "user")
	require.ErrorIs(t, err, andromeda.ErrQuotaNotFound)
}
