package andromeda

import (
	"context"
	"time"
)

// DefaultHoldFor is how long a hold lasts by default.
const DefaultHoldFor = 5 * time.Minute

// QuotaHoldsConfig configures NewQuotaHolds. Cache, and the Quota's GetQuotaLimit and
// GetQuotaUsageKey, are required.
type QuotaHoldsConfig struct {
	Cache Cache
	// Quota is the quota the holds take from.
	Quota Quota
	// GetQuotaUsageConfig paces the loading of a missing usage key.
	GetQuotaUsageConfig GetQuotaUsageConfig
	// HoldFor is how long a hold lasts before its quota is released by itself; 0 means
	// DefaultHoldFor.
	HoldFor time.Duration
	// Retention is how long a closed hold, or a reserve refused for the limit, is
	// remembered, so that Reserve, Commit and Cancel can be repeated; 0 means
	// DefaultIdempotencyRetention.
	Retention time.Duration
	// Listener is told how each Do of Reserve, Commit and Cancel ended.
	Listener UpdateQuotaUsageListener
}

// QuotaHolds reserves quota now and commits or cancels it later, in the spirit of
// TigerBeetle's pending transfers: a process that dies between taking quota and recording
// what it took no longer leaks it. A reserved amount counts against the limit at once; the
// usage Redis reports is committed usage plus active holds. A hold that is neither
// committed nor cancelled by its end is released by whichever call comes next on the quota
// (a reserve, commit or cancel, or a plain add or reduce): no background process is
// needed, and no call ever decides as if an expired hold were still active.
//
// A hold ends HoldFor after its reserve, rounded up to a multiple of HoldFor/64 (so it
// may last up to 1/64 longer): holds are summed by end in at most ~65 buckets per quota,
// which keeps releasing them O(buckets) however many holds there are. A closed hold is
// remembered for Retention, then forgotten by Redis itself. The holds are counted in the
// usage, so they are lost with it: when the usage key is gone (expired, deleted, or lost
// in a failover), its active holds count as expired, and their quota is not released
// again against a usage loaded afresh.
//
// Each is an UpdateQuotaUsage whose request names the hold with IdempotencyKey (required),
// for example an order ID: the key that names one claim names its hold, and a repeat with
// it replays, as for any keyed change.
//
//	hold := &andromeda.QuotaUsageRequest{QuotaID: "flash-sale", Usage: 2, IdempotencyKey: orderID}
//	holds.Reserve.Do(ctx, hold) // counted now, or ErrQuotaLimitExceeded
//	holds.Commit.Do(ctx, hold)  // kept; ErrHoldExpired if it came too late
//	holds.Cancel.Do(ctx, hold)  // given back
//
// All three are idempotent: a repeated Reserve of an active hold, Commit of a committed
// one, or Cancel of a cancelled or expired one changes nothing and succeeds. Commit and
// Cancel take the amount from the hold, so their request's Usage may be 0. Each Do
// returns the quota's usage after it. Plain adds and reduces on the same quota see held
// quota as used; a plain reduce that gives back held quota makes a later release stop at
// zero. A quota that never used holds pays one extra hash lookup per plain add or reduce.
type QuotaHolds struct {
	Reserve, Commit, Cancel UpdateQuotaUsage
}

// NewQuotaHolds returns the Reserve, Commit and Cancel of quota holds. It panics if a
// required field is missing.
func NewQuotaHolds(conf QuotaHoldsConfig) QuotaHolds {
	const name = "QuotaHoldsConfig"
	mustSet(name, configField{"Cache", conf.Cache})
	mustBeQuota(name, "Quota", conf.Quota, true)
	mustBeUsable(name, configField{"Listener", conf.Listener})
	if conf.HoldFor <= 0 {
		conf.HoldFor = DefaultHoldFor
	}
	if conf.Retention <= 0 {
		conf.Retention = DefaultIdempotencyRetention
	}
	q := conf.Quota
	usage := q.usageLoader(conf.Cache, conf.GetQuotaUsageConfig)
	step := func(op holdOp, opName string) UpdateQuotaUsage {
		h := &quotaHold{op: op, cache: newStore(conf.Cache), pace: conf.GetQuotaUsageConfig, quota: q, usage: usage,
			holdFor: conf.HoldFor, retention: conf.Retention}
		return &usageStep{op: opName, apply: h.change, listener: conf.Listener, zeroUsageOK: op != holdReserve}
	}
	return QuotaHolds{Reserve: step(holdReserve, "reserve"), Commit: step(holdCommit, "commit"), Cancel: step(holdCancel, "cancel")}
}

// quotaHold is the change of a hold's Reserve, Commit or Cancel. Holds take no Next, so
// it returns no undo.
type quotaHold struct {
	op        holdOp
	cache     *store
	pace      GetQuotaUsageConfig
	quota     Quota
	usage     *loader
	holdFor   time.Duration
	retention time.Duration
}

func (h *quotaHold) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, _ string, _ bool) (int64, string, undoFunc, error) {
	if req.IdempotencyKey == "" {
		return 0, "", nil, invalid("IdempotencyKey names the hold and is required")
	}
	key, err := usageKey(ctx, h.quota.GetQuotaUsageKey, qreq)
	if err != nil {
		return 0, "", nil, err
	}
	args := holdArgs{Op: h.op, Key: key, HoldID: req.IdempotencyKey, Retention: h.retention}
	if h.op == holdReserve {
		if args.Limit, err = quotaLimit(ctx, h.quota.GetQuotaLimit, qreq); err != nil {
			return 0, key, nil, err
		}
		args.Amount, args.HoldFor = req.Usage, h.holdFor
		if h.usage.get == nil {
			args.CreateMissing = true
			if args.Expiration, err = h.usage.expirationOf(ctx, qreq); err != nil {
				return 0, key, nil, err
			}
		}
	}
	var res cacheResult
	err = retryMissing(ctx, h.pace, qreq, func() (*missingKey, error) {
		var err error
		// A hold is named by its ID: sending it again replays what the first send did.
		res, err = retryUnknown(ctx, args.Retention, func() (cacheResult, error) { return h.cache.ChangeHold(ctx, args) })
		if err == nil && res.Status == cacheMissing && h.usage.get != nil {
			return &missingKey{h.usage, key}, nil
		}
		return nil, err
	})
	if err != nil {
		return 0, key, nil, &QuotaError{Limit: args.Limit, Err: err}
	}
	if cause, failed := holdFailures[res.Status]; failed {
		return 0, key, nil, &QuotaError{Limit: args.Limit, Usage: res.Usage, Err: cause}
	}
	return res.Usage, key, nil, nil
}

var holdFailures = map[cacheStatus]error{
	cacheLimitExceeded: ErrQuotaLimitExceeded,
	cacheHoldExpired:   ErrHoldExpired,
	cacheHoldCancelled: ErrHoldCancelled,
	cacheHoldNotFound:  ErrHoldNotFound,
	cacheHoldCommitted: ErrHoldCommitted,
	cacheMissing:       ErrQuotaNotFound,
}
