package andromeda

import (
	"context"
	"time"
)

// DefaultHoldFor is how long a hold lasts by default.
const DefaultHoldFor = 5 * time.Minute

// QuotaHoldsConfig configures NewQuotaHolds. Cache, GetQuotaLimit and GetQuotaUsageKey are
// required; the other fields mean what they mean for AddQuotaUsage.
type QuotaHoldsConfig struct {
	Cache                   Cache
	GetQuotaLimit           GetQuota
	GetQuotaUsage           GetQuota
	GetQuotaUsageKey        GetQuotaKey
	GetQuotaUsageExpiration GetQuotaExpiration
	GetQuotaUsageConfig     GetQuotaUsageConfig
	// HoldFor is how long a hold lasts before its quota is released by itself; 0 means
	// DefaultHoldFor.
	HoldFor time.Duration
	// Retention is how long a closed hold is remembered, so that Commit and Cancel can be
	// repeated; 0 means DefaultIdempotencyRetention.
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
// for example an order ID:
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
	mustSet(name, configField{"Cache", conf.Cache}, configField{"GetQuotaLimit", conf.GetQuotaLimit},
		configField{"GetQuotaUsageKey", conf.GetQuotaUsageKey})
	mustBeUsable(name, configField{"GetQuotaUsage", conf.GetQuotaUsage},
		configField{"GetQuotaUsageExpiration", conf.GetQuotaUsageExpiration}, configField{"Listener", conf.Listener})
	if conf.HoldFor <= 0 {
		conf.HoldFor = DefaultHoldFor
	}
	if conf.Retention <= 0 {
		conf.Retention = DefaultIdempotencyRetention
	}
	usage := newUsageLoader(conf.Cache, conf.GetQuotaUsage, conf.GetQuotaUsageExpiration, conf.GetQuotaUsageConfig)
	step := func(op HoldOp, name string) UpdateQuotaUsage {
		s := &holdStep{
			usageStep: usageStep{op: name, cache: newStore(conf.Cache), conf: conf.GetQuotaUsageConfig, listener: conf.Listener,
				zeroUsageOK: op != HoldReserve},
			holdOp: op, conf: conf, usage: usage,
		}
		s.changer = s
		return s
	}
	return QuotaHolds{Reserve: step(HoldReserve, "reserve"), Commit: step(HoldCommit, "commit"), Cancel: step(HoldCancel, "cancel")}
}

type holdStep struct {
	usageStep
	holdOp HoldOp
	conf   QuotaHoldsConfig
	usage  *loader
}

// Do reserves, commits or cancels the hold req.IdempotencyKey names, and returns the
// quota's usage after it.
func (s *holdStep) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	return s.run(ctx, req)
}

func (s *holdStep) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string) (int64, string, error) {
	if req.IdempotencyKey == "" {
		return 0, "", invalid("IdempotencyKey names the hold and is required")
	}
	key, err := usageKey(ctx, s.conf.GetQuotaUsageKey, qreq)
	if err != nil {
		return 0, "", err
	}
	args := HoldArgs{Op: s.holdOp, Key: key, HoldID: req.IdempotencyKey, Retention: s.conf.Retention}
	if s.holdOp == HoldReserve {
		if args.Limit, err = quotaLimit(ctx, s.conf.GetQuotaLimit, qreq); err != nil {
			return 0, key, err
		}
		args.Amount, args.HoldFor = req.Usage, s.conf.HoldFor
		if s.usage.get == nil {
			args.CreateMissing = true
			if args.Expiration, err = s.usage.expirationOf(ctx, qreq); err != nil {
				return 0, key, err
			}
		}
	}
	var res CacheResult
	err = retryMissing(ctx, s.conf.GetQuotaUsageConfig, qreq, func() (*missingKey, error) {
		var err error
		// A hold is named by its ID: sending it again replays what the first send did.
		res, err = retryUnknown(ctx, true, func() (CacheResult, error) { return s.cache.ChangeHold(ctx, args) })
		if err == nil && res.Status == CacheMissing && s.usage.get != nil {
			return &missingKey{s.usage, key}, nil
		}
		return nil, err
	})
	if err != nil {
		return 0, key, &QuotaError{Limit: args.Limit, Err: err}
	}
	if cause, failed := holdFailures[res.Status]; failed {
		return 0, key, &QuotaError{Limit: args.Limit, Usage: res.Usage, Err: cause}
	}
	return res.Usage, key, nil
}

var holdFailures = map[CacheStatus]error{
	CacheLimitExceeded: ErrQuotaLimitExceeded,
	CacheHoldExpired:   ErrHoldExpired,
	CacheHoldCancelled: ErrHoldCancelled,
	CacheHoldNotFound:  ErrHoldNotFound,
	CacheHoldCommitted: ErrHoldCommitted,
	CacheMissing:       ErrQuotaNotFound,
}

// undo is never called: holds take no Next.
func (s *holdStep) undo(context.Context, *QuotaRequest, string, *QuotaUsageRequest, string) error {
	return nil
}
