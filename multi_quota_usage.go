package andromeda

import (
	"context"
	"fmt"
)

// Quota is one of the quotas that AddQuotasUsage and ReduceQuotasUsage change together.
// Its functions receive the request's QuotaID and Data, like AddQuotaUsage's do: a
// per-user quota can take the user from Data.
type Quota struct {
	// GetQuotaLimit returns the quota's limit; required for AddQuotasUsage.
	GetQuotaLimit GetQuota
	// GetQuotaUsage loads the usage when the key is missing; without it a missing key
	// starts at zero.
	GetQuotaUsage GetQuota
	// GetQuotaUsageKey returns the Redis key of the quota's usage; required. On a cluster
	// the keys of all quotas must share a hash slot: give them a common hash tag.
	GetQuotaUsageKey GetQuotaKey
	// GetQuotaUsageExpiration returns how long a stored usage is kept (0: no expiration).
	GetQuotaUsageExpiration GetQuotaExpiration
}

// QuotasUsageOption holds the optional behaviour of AddQuotasUsage and ReduceQuotasUsage.
type QuotasUsageOption struct {
	// Listener is told how each Do ended; its updatedUsage is the first quota's.
	Listener UpdateQuotaUsageListener
	// Irreversible keeps the change even when Next fails.
	// Do then returns Next's error as it is, even a refusal that says nothing changed:
	// that is Next's answer, and this change stays counted, as asked.
	Irreversible bool
}

// AddQuotasUsageConfig configures AddQuotasUsage. Cache and at least one Quota are required.
type AddQuotasUsageConfig struct {
	Cache  Cache
	Quotas []Quota
	// GetQuotaUsageConfig paces the loading of missing keys.
	GetQuotaUsageConfig GetQuotaUsageConfig
	// Next, if set, runs after a successful change; if it fails, the change is undone.
	Next   UpdateQuotaUsage
	Option QuotasUsageOption
}

// ReduceQuotasUsageConfig configures ReduceQuotasUsage. Cache and at least one Quota are
// required; the quotas' GetQuotaLimit is not used.
type ReduceQuotasUsageConfig struct {
	Cache               Cache
	Quotas              []Quota
	GetQuotaUsageConfig GetQuotaUsageConfig
	Next                UpdateQuotaUsage
	Option              QuotasUsageOption
}

// AddQuotasUsage returns an UpdateQuotaUsage whose Do adds req.Usage to every quota in one
// atomic script, one round trip, all or nothing: only if each usage stays within its own
// limit. Otherwise nothing changes and the error wraps ErrQuotaLimitExceeded, with the
// key, limit and usage of the quota that refused. The common case is a campaign's quota
// with each user's quota, e.g. keys "{campaign-42}:usage" and "{campaign-42}:user:7". On a
// Redis Cluster the keys must share a hash slot; if they do not, Do fails with an error
// wrapping ErrCrossSlot, and chaining AddQuotaUsage values with Next is the alternative.
// Do returns the first quota's usage. It panics if a required field is missing.
func AddQuotasUsage(conf AddQuotasUsageConfig) UpdateQuotaUsage {
	const name = "AddQuotasUsageConfig"
	mustSet(name, configField{"Cache", conf.Cache})
	mustHave(len(conf.Quotas) > 0, name, "Quotas")
	for i, q := range conf.Quotas {
		mustSet(name, configField{fmt.Sprintf("Quotas[%d].GetQuotaLimit", i), q.GetQuotaLimit})
	}
	mustBeUsable(name, configField{"Next", conf.Next}, configField{"Option.Listener", conf.Option.Listener})
	a := &addQuotasUsage{
		usageStep: multiStep(opAdd, conf.Cache, conf.GetQuotaUsageConfig, conf.Next, conf.Option),
		quotas:    newQuotaSet(name, conf.Cache, conf.Quotas, conf.GetQuotaUsageConfig),
	}
	a.changer = a
	return a
}

// ReduceQuotasUsage returns an UpdateQuotaUsage whose Do subtracts req.Usage from every
// quota in one atomic script, all or nothing: only if each usage stays at or above zero;
// otherwise the error wraps ErrInvalidMinQuotaUsage. The keys must share a hash slot on a
// cluster, as for AddQuotasUsage. It panics if a required field is missing.
func ReduceQuotasUsage(conf ReduceQuotasUsageConfig) UpdateQuotaUsage {
	const name = "ReduceQuotasUsageConfig"
	mustSet(name, configField{"Cache", conf.Cache})
	mustHave(len(conf.Quotas) > 0, name, "Quotas")
	mustBeUsable(name, configField{"Next", conf.Next}, configField{"Option.Listener", conf.Option.Listener})
	r := &reduceQuotasUsage{
		usageStep: multiStep(opReduce, conf.Cache, conf.GetQuotaUsageConfig, conf.Next, conf.Option),
		quotas:    newQuotaSet(name, conf.Cache, conf.Quotas, conf.GetQuotaUsageConfig),
	}
	r.changer = r
	return r
}

func multiStep(op string, cache Cache, conf GetQuotaUsageConfig, next UpdateQuotaUsage, option QuotasUsageOption) usageStep {
	return usageStep{op: op, cache: cache, conf: conf, next: next, irreversible: option.Irreversible, listener: option.Listener, multi: true}
}

// quotaSet is the quotas of one multi-quota operation, each with its usage loader.
type quotaSet struct {
	quotas  []Quota
	loaders []*loader
}

func newQuotaSet(name string, cache Cache, quotas []Quota, conf GetQuotaUsageConfig) quotaSet {
	s := quotaSet{quotas: quotas}
	for i, q := range quotas {
		field := func(f string) string { return fmt.Sprintf("Quotas[%d].%s", i, f) }
		mustSet(name, configField{field("GetQuotaUsageKey"), q.GetQuotaUsageKey})
		mustBeUsable(name, configField{field("GetQuotaUsage"), q.GetQuotaUsage},
			configField{field("GetQuotaUsageExpiration"), q.GetQuotaUsageExpiration})
		s.loaders = append(s.loaders, newUsageLoader(cache, q.GetQuotaUsage, q.GetQuotaUsageExpiration, conf))
	}
	return s
}

// keys returns each quota's usage key; they must be distinct.
func (s quotaSet) keys(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest) ([]string, error) {
	if req.IdempotencyKey != "" {
		return nil, invalid("IdempotencyKey is not supported when changing several quotas at once")
	}
	keys := make([]string, len(s.quotas))
	seen := make(map[string]int, len(s.quotas))
	for i, q := range s.quotas {
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

// missing is the key to load when a change reports keys[index] missing, or nil when that
// quota has no loader and a missing usage counts as zero.
func (s quotaSet) missing(keys []string, index int) *missingKey {
	if s.loaders[index].get == nil {
		return nil
	}
	return &missingKey{s.loaders[index], keys[index]}
}

type addQuotasUsage struct {
	usageStep
	quotas quotaSet
}

// Do adds req.Usage to every quota and returns the first quota's usage after it.
func (a *addQuotasUsage) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	return a.run(ctx, req)
}

func (a *addQuotasUsage) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string) (int64, string, error) {
	keys, err := a.quotas.keys(ctx, qreq, req)
	if err != nil {
		return 0, "", err
	}
	amount := req.Usage
	args := make([]AddUsageArgs, len(keys))
	for i, q := range a.quotas.quotas {
		limit, err := quotaLimit(ctx, q.GetQuotaLimit, qreq)
		if err != nil {
			return 0, keys[i], err
		}
		args[i] = AddUsageArgs{Key: keys[i], Amount: amount, Limit: limit}
		if l := a.quotas.loaders[i]; l.get == nil {
			args[i].CreateMissing = true
			if args[i].Expiration, err = l.expirationOf(ctx, qreq); err != nil {
				return 0, keys[i], err
			}
		}
	}
	var res MultiResult
	err = retryMissing(ctx, a.conf, qreq, func() (*missingKey, error) {
		var err error
		res, err = a.cache.AddUsages(ctx, args)
		if err == nil && res.Status == CacheMissing {
			return a.quotas.missing(keys, res.Index), nil
		}
		return nil, err
	})
	switch {
	case err != nil:
		return 0, keys[0], err
	case res.Status != CacheApplied:
		i := res.Index
		return 0, keys[i], &QuotaError{Key: keys[i], Limit: args[i].Limit, Usage: res.Usages[i], Err: ErrQuotaLimitExceeded}
	}
	return res.Usages[0], keys[0], nil
}

// undo takes the add back from each quota; a key gone missing since took it with it.
func (a *addQuotasUsage) undo(ctx context.Context, qreq *QuotaRequest, _ string, req *QuotaUsageRequest, attempt string) error {
	keys, err := a.quotas.keys(ctx, qreq, req)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if err := takeBackAdd(ctx, a.cache, ReduceUsageArgs{Key: key, Amount: req.Usage}); err != nil {
			return err
		}
	}
	return nil
}

type reduceQuotasUsage struct {
	usageStep
	quotas quotaSet
}

// Do subtracts req.Usage from every quota and returns the first quota's usage after it.
func (r *reduceQuotasUsage) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	return r.run(ctx, req)
}

func (r *reduceQuotasUsage) change(ctx context.Context, qreq *QuotaRequest, req *QuotaUsageRequest, attempt string) (int64, string, error) {
	keys, err := r.quotas.keys(ctx, qreq, req)
	if err != nil {
		return 0, "", err
	}
	amount := req.Usage
	var res MultiResult
	err = retryMissing(ctx, r.conf, qreq, func() (*missingKey, error) {
		var err error
		res, err = r.cache.ReduceUsages(ctx, keys, amount)
		if err == nil && res.Status == CacheMissing {
			return r.quotas.missing(keys, res.Index), nil
		}
		return nil, err
	})
	switch {
	case err != nil:
		return 0, keys[0], err
	case res.Status == CacheMissing: // a quota without a loader counts a missing usage as zero
		return 0, keys[res.Index], &QuotaError{Key: keys[res.Index], Err: ErrInvalidMinQuotaUsage}
	case res.Status != CacheApplied:
		i := res.Index
		return 0, keys[i], &QuotaError{Key: keys[i], Usage: res.Usages[i], Err: ErrInvalidMinQuotaUsage}
	}
	return res.Usages[0], keys[0], nil
}

// undo puts the reduce back on each quota; a key gone missing since took it with it.
func (r *reduceQuotasUsage) undo(ctx context.Context, qreq *QuotaRequest, _ string, req *QuotaUsageRequest, attempt string) error {
	keys, err := r.quotas.keys(ctx, qreq, req)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if err := putBackReduce(ctx, r.cache, AddUsageArgs{Key: key, Amount: req.Usage}); err != nil {
			return err
		}
	}
	return nil
}
