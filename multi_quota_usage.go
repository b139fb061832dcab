package andromeda

import (
	"context"
	"fmt"
	"slices"
)

// MultiQuotaUsageConfig configures AddMultiQuotaUsage and ReduceMultiQuotaUsage. Cache and
// at least one Quota are required; a reduce does not use the quotas' GetQuotaLimit.
type MultiQuotaUsageConfig struct {
	Cache  Cache
	Quotas []Quota
	// GetQuotaUsageConfig paces the loading of missing keys.
	GetQuotaUsageConfig GetQuotaUsageConfig
	// Next, if set, runs after a successful change; if it fails, the change is undone
	// (unless Option.Irreversible) and Do returns Next's error.
	Next   UpdateQuotaUsage
	Option MultiQuotaUsageOption
}

// MultiQuotaUsageOption holds the optional behaviour of AddMultiQuotaUsage and
// ReduceMultiQuotaUsage.
type MultiQuotaUsageOption struct {
	// Listener is told how each Do ended; its updatedUsage is the first quota's.
	Listener UpdateQuotaUsageListener
	// Irreversible keeps the change even when Next fails.
	// Do then returns Next's error as it is, even a refusal that says nothing changed:
	// that is Next's answer, and this change stays counted, as asked.
	Irreversible bool
}

// AddMultiQuotaUsage returns an UpdateQuotaUsage whose Do adds req.Usage to every quota in
// one atomic script, one round trip, all or nothing: only if each usage stays within its
// own limit. Otherwise nothing changes and the error wraps ErrQuotaLimitExceeded, with the
// key, limit and usage of the quota that refused. The common case is a campaign's quota
// with each user's quota, e.g. keys "{campaign-42}:usage" and "{campaign-42}:user:7". On a
// Redis Cluster the keys must share a hash slot; if they do not, Do fails with an error
// wrapping ErrCrossSlot, and chaining AddQuotaUsage values with Next is the alternative.
// Do returns the first quota's usage. It panics if a required field is missing.
func AddMultiQuotaUsage(conf MultiQuotaUsageConfig) UpdateQuotaUsage {
	return newMultiQuotaStep(opAdd, conf)
}

// ReduceMultiQuotaUsage returns an UpdateQuotaUsage whose Do subtracts req.Usage from every
// quota in one atomic script, all or nothing: only if each usage stays at or above zero;
// otherwise the error wraps ErrInvalidMinQuotaUsage. The keys must share a hash slot on a
// cluster, as for AddMultiQuotaUsage. It panics if a required field is missing.
func ReduceMultiQuotaUsage(conf MultiQuotaUsageConfig) UpdateQuotaUsage {
	return newMultiQuotaStep(opReduce, conf)
}

func newMultiQuotaStep(op string, conf MultiQuotaUsageConfig) UpdateQuotaUsage {
	const name = "MultiQuotaUsageConfig"
	mustSet(name, configField{"Cache", conf.Cache})
	mustHave(len(conf.Quotas) > 0, name, "Quotas")
	// A copy, so that a caller reusing its slice cannot change the quotas under a Do.
	m := &multiQuota{cache: newStore(conf.Cache), pace: conf.GetQuotaUsageConfig, quotas: slices.Clone(conf.Quotas)}
	for i, q := range m.quotas {
		mustBeQuota(name, fmt.Sprintf("Quotas[%d]", i), q, op == opAdd)
		m.loaders = append(m.loaders, q.usageLoader(conf.Cache, conf.GetQuotaUsageConfig))
	}
	mustBeUsable(name, configField{"Next", conf.Next}, configField{"Option.Listener", conf.Option.Listener})
	apply := m.reduce
	if op == opAdd {
		apply = m.add
	}
	return &usageStep{op: op, apply: apply, next: conf.Next, irreversible: conf.Option.Irreversible, listener: conf.Option.Listener, multi: true}
}

// multiQuota is the change of AddMultiQuotaUsage and ReduceMultiQuotaUsage: its quotas,
// each with its usage loader.
type multiQuota struct {
	cache   *store
	pace    GetQuotaUsageConfig
	quotas  []Quota
	loaders []*loader
}

// keys returns each quota's usage key; they must be distinct.
func (m *multiQuota) keys(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest) ([]string, error) {
	if req.IdempotencyKey != "" {
		return nil, invalid("IdempotencyKey is not supported when changing several quotas at once")
	}
	keys := make([]string, len(m.quotas))
	seen := make(map[string]int, len(m.quotas))
	for i, q := range m.quotas {
		key, err := usageKey(ctx, q.GetQuotaUsageKey, qreq)
		if err != nil {
			return nil, fmt.Errorf("quota %d: %w", i, err)
		}
		if j, dup := seen[key]; dup {
			return nil, invalid("quotas %d and %d have the same key %q", j, i, key)
		}
		seen[key], keys[i] = i, key
	}
	return keys, nil
}

// send makes the call that changes the quotas at keys, loading a quota's usage and
// calling again while the call reports it missing; a quota without a loader counts a
// missing usage as zero, and the call's result says so.
func (m *multiQuota) send(ctx context.Context, qreq *QuotaRequest, keys []string, call func() (multiResult, error)) (multiResult, error) {
	var res multiResult
	err := retryMissing(ctx, m.pace, qreq, func() (*missingKey, error) {
		var err error
		res, err = call()
		if err != nil || res.Status != cacheMissing || m.loaders[res.Index].get == nil {
			return nil, err
		}
		return &missingKey{m.loaders[res.Index], keys[res.Index]}, nil
	})
	return res, err
}

func (m *multiQuota) add(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, _ string, undoable bool) (int64, string, undoFunc, error) {
	keys, err := m.keys(ctx, qreq, req)
	if err != nil {
		return 0, "", nil, err
	}
	amount := req.Usage
	args := make([]addUsageArgs, len(keys))
	for i, q := range m.quotas {
		limit, err := quotaLimit(ctx, q.GetQuotaLimit, qreq)
		if err != nil {
			return 0, keys[i], nil, err
		}
		args[i] = addUsageArgs{Key: keys[i], Amount: amount, Limit: limit}
		if l := m.loaders[i]; l.get == nil {
			args[i].CreateMissing = true
			if args[i].Expiration, err = l.expirationOf(ctx, qreq); err != nil {
				return 0, keys[i], nil, err
			}
		}
	}
	res, err := m.send(ctx, qreq, keys, func() (multiResult, error) { return m.cache.AddUsages(ctx, args) })
	switch {
	case err != nil:
		return 0, keys[res.Index], nil, err // the quota a value that is not a usage was found at, else the first
	case res.Status != cacheApplied:
		i := res.Index
		return 0, keys[i], nil, &QuotaError{Key: keys[i], Limit: args[i].Limit, Usage: res.Usages[i], Err: ErrQuotaLimitExceeded}
	}
	if !undoable {
		return res.Usages[0], keys[0], nil, nil
	}
	return res.Usages[0], keys[0], func(ctx context.Context) error { return m.takeBackAdds(ctx, keys, amount) }, nil
}

// takeBackAdds undoes an add of amount on several quotas in one atomic step, all or
// nothing, as the add was made: never half undone when Redis drops out between two steps.
// A quota whose usage went missing since took its share with it: the others are taken
// back without it.
func (m *multiQuota) takeBackAdds(ctx context.Context, keys []string, amount int64) error {
	ctx, cancel := undoSends(ctx)
	defer cancel()
	res, keys, err := withoutMissing(keys, func(keys []string) (multiResult, error) { return m.cache.ReduceUsages(ctx, keys, amount) })
	if err == nil && res.Status != cacheApplied {
		err = fmt.Errorf("%w (key %q, usage %d)", ErrInvalidMinQuotaUsage, keys[res.Index], res.Usages[res.Index])
	}
	return err
}

// withoutMissing makes send, one all-or-nothing step on several quotas, until no quota's
// usage is missing: a quota whose usage went missing took its share of the change being
// undone with it, and is dropped. It returns the last result and the quotas it was for
// (none left: applied, to none).
func withoutMissing[T any](quotas []T, send func([]T) (multiResult, error)) (multiResult, []T, error) {
	quotas = slices.Clone(quotas)
	for len(quotas) > 0 {
		res, err := send(quotas)
		if err != nil || res.Status != cacheMissing {
			return res, quotas, err
		}
		quotas = slices.Delete(quotas, res.Index, res.Index+1)
	}
	return multiResult{Status: cacheApplied}, nil, nil
}

func (m *multiQuota) reduce(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, _ string, undoable bool) (int64, string, undoFunc, error) {
	keys, err := m.keys(ctx, qreq, req)
	if err != nil {
		return 0, "", nil, err
	}
	amount := req.Usage
	res, err := m.send(ctx, qreq, keys, func() (multiResult, error) { return m.cache.ReduceUsages(ctx, keys, amount) })
	switch {
	case err != nil:
		return 0, keys[res.Index], nil, err // the quota a value that is not a usage was found at, else the first
	case res.Status == cacheMissing:
		return 0, keys[res.Index], nil, &QuotaError{Key: keys[res.Index], Err: ErrInvalidMinQuotaUsage}
	case res.Status != cacheApplied:
		i := res.Index
		return 0, keys[i], nil, &QuotaError{Key: keys[i], Usage: res.Usages[i], Err: ErrInvalidMinQuotaUsage}
	}
	if !undoable {
		return res.Usages[0], keys[0], nil, nil
	}
	return res.Usages[0], keys[0], func(ctx context.Context) error {
		return m.putBackReduces(ctx, qreq, keys, res.Usages, amount)
	}, nil
}

// putBackReduces undoes a reduce of amount on several quotas in one atomic step, all or
// nothing, each bounded by putBackLimit. A quota whose usage went
// missing since took its share with it: the others are put back without it. When one
// quota's freed units were taken meanwhile, nothing is put back and the reduce stays
// applied on every quota.
func (m *multiQuota) putBackReduces(ctx context.Context, qreq *QuotaRequest, keys []string, after []int64, amount int64) error {
	var args []addUsageArgs
	for i, key := range keys {
		limit, err := putBackLimit(ctx, m.cache, key, amount, cacheResult{Usage: after[i]}, m.quotas[i].GetQuotaLimit, qreq)
		if err != nil {
			return fmt.Errorf("put back: %w", err)
		}
		args = append(args, addUsageArgs{Key: key, Amount: amount, Limit: limit})
	}
	ctx, cancel := undoSends(ctx)
	defer cancel()
	res, args, err := withoutMissing(args, func(args []addUsageArgs) (multiResult, error) { return m.cache.AddUsages(ctx, args) })
	switch {
	case err != nil:
		return fmt.Errorf("put back: %w", err)
	case res.Status != cacheApplied:
		a := args[res.Index]
		return putBackRefused(amount, a.Key, res.Usages[res.Index], a.Limit)
	}
	return nil
}
