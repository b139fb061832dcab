package andromeda_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errBroken = errors.New("broken")

// Every bad input gets a clear error, one OnError call, and leaves Redis as it was.
func TestBadInputChangesNothing(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	failingKey := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return "", errBroken })
	emptyKey := andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return "", nil })
	limitOf := func(limit int64, err error) andromeda.GetQuota {
		return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return limit, err })
	}
	expiration := func(d time.Duration, err error) andromeda.GetQuotaExpiration {
		return andromeda.GetQuotaExpirationFunc(func(context.Context, *andromeda.QuotaRequest) (time.Duration, error) { return d, err })
	}

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		req     *andromeda.QuotaUsageRequest
		stored  interface{} // the value at the key before; nil: absent
		add     func(*andromeda.AddQuotaUsageConfig)
		reduce  func(*andromeda.ReduceQuotaUsageConfig)
		wantErr error
		wantMsg string
	}{
		{name: "nil request", req: nil, stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "nil request"},
		{name: "zero usage", req: req("v1", 0), stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "usage must be positive, got 0"},
		{name: "negative usage", req: req("v1", -3), stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "usage must be positive, got -3"},
		{name: "huge usage", req: req("v1", andromeda.MaxAmount+1), stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "above the maximum"},
		{name: "cancelled context", ctx: cancelled, req: req("v1", 1), stored: 5, wantErr: context.Canceled},
		{name: "failing key function", req: req("v1", 1), stored: 5, wantErr: errBroken, wantMsg: "get quota usage key: broken",
			add:    func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageKey = failingKey },
			reduce: func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsageKey = failingKey }},
		{name: "empty key", req: req("v1", 1), stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "empty key",
			add:    func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageKey = emptyKey },
			reduce: func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsageKey = emptyKey }},
		{name: "non-integer cached usage", req: req("v1", 1), stored: "12abc", wantErr: andromeda.ErrInvalidCachedUsage, wantMsg: `holds "12abc"`},
		{name: "fractional cached usage", req: req("v1", 1), stored: "1.5", wantErr: andromeda.ErrInvalidCachedUsage},
		{name: "failing limit function", req: req("v1", 1), stored: 5, wantErr: errBroken, wantMsg: "get quota limit: broken",
			add: func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = limitOf(0, errBroken) }},
		{name: "negative limit", req: req("v1", 1), stored: 5, wantErr: andromeda.ErrInvalidRequest, wantMsg: "GetQuotaLimit returned -1",
			add: func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaLimit = limitOf(-1, nil) }},
		{name: "failing expiration on load", req: req("v1", 1), wantErr: errBroken, wantMsg: "GetQuotaUsageExpiration: broken",
			add:    func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageExpiration = expiration(0, errBroken) },
			reduce: func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsageExpiration = expiration(0, errBroken) }},
		{name: "negative expiration on load", req: req("v1", 1), wantErr: andromeda.ErrInvalidRequest, wantMsg: "GetQuotaUsageExpiration returned -1s",
			add:    func(c *andromeda.AddQuotaUsageConfig) { c.GetQuotaUsageExpiration = expiration(-time.Second, nil) },
			reduce: func(c *andromeda.ReduceQuotaUsageConfig) { c.GetQuotaUsageExpiration = expiration(-time.Second, nil) }},
		{name: "negative expiration without loader", req: req("v1", 1), wantErr: andromeda.ErrInvalidRequest,
			add: func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaUsage = nil
				c.GetQuotaUsageExpiration = expiration(-time.Second, nil)
			}},
	} {
		for _, op := range []string{"add", "reduce"} {
			if op == "reduce" && tc.add != nil && tc.reduce == nil {
				continue // a case about the limit or the add-only path
			}
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				eachBackend(t, func(t *testing.T, b backend) {
					db := newQuotaDB()
					db.put("v1", 100, 7)
					if tc.stored != nil {
						b.set(t, keyOf("v1"), tc.stored)
					}
					before, _ := b.client.Get(context.Background(), keyOf("v1")).Result()
					listener := &countingListener{}
					var u andromeda.UpdateQuotaUsage
					if op == "add" {
						u = newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
							c.Option.Listener = listener
							if tc.add != nil {
								tc.add(c)
							}
						})
					} else {
						u = newReduce(b, db, func(c *andromeda.ReduceQuotaUsageConfig) {
							c.Option.Listener = listener
							if tc.reduce != nil {
								tc.reduce(c)
							}
						})
					}
					ctx := tc.ctx
					if ctx == nil {
						ctx = context.Background()
					}

					var usage int64
					var err error
					require.NotPanics(t, func() { usage, err = u.Do(ctx, tc.req) })
					require.ErrorIs(t, err, tc.wantErr)
					assert.Zero(t, usage)
					var qerr *andromeda.QuotaError
					assert.ErrorAs(t, err, &qerr)
					assert.Contains(t, err.Error(), tc.wantMsg)
					after, _ := b.client.Get(context.Background(), keyOf("v1")).Result()
					assert.Equal(t, before, after, "the stored usage must not change")
					assert.Equal(t, int64(1), listener.errors.Load())
					assert.Zero(t, listener.successes.Load())
				})
			})
		}
	}
}

func TestConstructorsNameTheMissingField(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	assert.PanicsWithValue(t, "andromeda: AddQuotaUsageConfig.Cache is required", func() {
		andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{GetQuotaLimit: db.limit(), GetQuotaUsageKey: usageKey})
	})
	assert.PanicsWithValue(t, "andromeda: AddQuotaUsageConfig.GetQuotaLimit is required", func() {
		andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaUsageKey: usageKey})
	})
	assert.PanicsWithValue(t, "andromeda: AddQuotaUsageConfig.GetQuotaUsageKey is required", func() {
		andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: db.limit()})
	})
	assert.PanicsWithValue(t, "andromeda: ReduceQuotaUsageConfig.Cache is required", func() {
		andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{GetQuotaUsageKey: usageKey})
	})
	assert.PanicsWithValue(t, "andromeda: ReduceQuotaUsageConfig.GetQuotaUsageKey is required", func() {
		andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache})
	})
}

// A func adapter or pointer that is nil inside its interface passes a != nil check, and
// would panic inside Do: construction refuses it instead.
func TestConstructorsRefuseTypedNil(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	assert.PanicsWithValue(t, "andromeda: AddQuotaUsageConfig.GetQuotaUsageKey is required", func() {
		andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: db.limit(),
			GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(nil)})
	})
	assert.PanicsWithValue(t, "andromeda: AddQuotaUsageConfig.GetQuotaUsage holds a nil andromeda.GetQuotaFunc", func() {
		andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: db.limit(),
			GetQuotaUsageKey: usageKey, GetQuotaUsage: andromeda.GetQuotaFunc(nil)})
	})
	var listener *countingListener
	assert.PanicsWithValue(t, "andromeda: ReduceQuotaUsageConfig.Option.Listener holds a nil *andromeda_test.countingListener", func() {
		andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsageKey: usageKey,
			Option: andromeda.ReduceUsageOption{Listener: listener}})
	})
	assert.PanicsWithValue(t, "andromeda: QuotaHoldsConfig.Quota.GetQuotaLimit is required", func() {
		andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{
			Cache: b.cache,
			Quota: andromeda.Quota{
				GetQuotaUsageKey: usageKey,
				GetQuotaLimit:    andromeda.GetQuotaFunc(nil),
			},
		})
	})
	assert.PanicsWithValue(t, "andromeda: MultiQuotaUsageConfig.Quotas[0].GetQuotaUsageKey is required", func() {
		andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache,
			Quotas: []andromeda.Quota{{GetQuotaLimit: db.limit(), GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(nil)}}})
	})
	assert.PanicsWithValue(t, "andromeda: MultiQuotaUsageConfig.Next holds a nil andromeda.UpdateQuotaUsageFunc", func() {
		andromeda.ReduceMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: b.cache,
			Quotas: []andromeda.Quota{{GetQuotaUsageKey: usageKey}}, Next: andromeda.UpdateQuotaUsageFunc(nil)})
	})
}
