package andromeda

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ramadani/andromeda/internal/scripts"
)

// store is the algorithms' storage: each atomic usage change is one of the library's
// scripts, run through the Cache transport with the retry policy of store_run.go.
type store struct {
	cache Cache
	// waits: the transport confirms writes with WAIT (see ReplicaWaiter).
	waits bool
	// refresher relearns a cluster's slot map; nil when the transport cannot.
	refresher SlotRefresher
}

// newStore returns the store over cache.
func newStore(cache Cache) *store {
	s := &store{cache: cache}
	if w, ok := cache.(ReplicaWaiter); ok {
		s.waits = w.WaitsForReplicas()
	}
	s.refresher, _ = cache.(SlotRefresher)
	return s
}

// runReply runs a script that replies as scripts.Parse reads, naming the change in errors
// by what() (a func, so that the name is written only for an error: an add must not pay
// for it); a failed call is runError's, an unreadable reply an unknown outcome.
func (c *store) runReply(ctx context.Context, script *Script, key string, what func() string, keys []string, args ...any) (scripts.Reply, error) {
	reply, err := c.run(ctx, script, keys, args...)
	if err != nil {
		return scripts.Reply{}, runError(key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return scripts.Reply{}, unreadable(what(), err)
	}
	return r, nil
}

func (c *store) AddUsage(ctx context.Context, args addUsageArgs) (cacheResult, error) {
	in := scripts.AddInput{Key: args.Key, LimitKey: args.LimitKey, HoldBuckets: holdBucketsKey(args.Key),
		Amount: args.Amount, Limit: args.Limit, Absent: absentArg(args), Attempt: args.Idempotency.Attempt}
	in.RecordKey, in.AddRecordKey, in.Retention, in.Mode = record(args.Idempotency)
	keys, scriptArgs := in.Build()
	r, err := c.runReply(ctx, addScript, args.Key, func() string { return changeOf(args.Key) }, keys, scriptArgs...)
	if err != nil {
		return cacheResult{}, err
	}
	if r.Status == scripts.AmountMismatch {
		return cacheResult{}, amountMismatch("add", args.Amount, args.Key, r)
	}
	return result(args, r)
}

// amountMismatch is the error of a change whose idempotency key (or hold ID) is recorded
// for an add or reserve of another amount: one key names one request.
func amountMismatch(op string, amount int64, key string, r scripts.Reply) error {
	return fmt.Errorf("%w: %s %d on %q with an idempotency key recorded for %d (at %q)",
		ErrInvalidRequest, op, amount, key, r.Usage, r.Key)
}

func (c *store) AddUsageBatch(ctx context.Context, batch []addUsageArgs) ([]cacheResult, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	amounts, limits := make([]int64, len(batch)), make([]int64, len(batch))
	for i, a := range batch {
		amounts[i], limits[i] = a.Amount, a.Limit
	}
	first := batch[0]
	keys, args := scripts.AddBatchArgs(first.Key, first.LimitKey, holdBucketsKey(first.Key), absentArg(first), amounts, limits)
	reply, err := c.run(ctx, addBatchScript, keys, args...)
	if err != nil {
		return nil, runError(batch[0].Key, err)
	}
	replies, err := scripts.ParseBatch(reply, amounts, limits)
	if err != nil {
		return nil, unreadable(changeOf(first.Key), err)
	}
	if len(replies) == 1 && scripts.Invalid(replies[0].Status) {
		_, err := result(batch[0], replies[0])
		return nil, err
	}
	if len(replies) != len(batch) {
		return nil, unreadable(changeOf(first.Key), fmt.Errorf("%d results for %d adds", len(replies), len(batch)))
	}
	results := make([]cacheResult, len(replies))
	for i, r := range replies {
		if results[i], err = result(batch[i], r); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func (c *store) ReduceUsage(ctx context.Context, args reduceUsageArgs) (cacheResult, error) {
	in := scripts.ReduceInput{Key: args.Key, HoldBuckets: holdBucketsKey(args.Key), Amount: args.Amount, Attempt: args.Idempotency.Attempt}
	in.RecordKey, in.AddRecordKey, in.Retention, in.Mode = record(args.Idempotency)
	keys, scriptArgs := in.Build()
	r, err := c.runReply(ctx, reduceScript, args.Key, func() string { return changeOf(args.Key) }, keys, scriptArgs...)
	if err != nil {
		return cacheResult{}, err
	}
	if r.Status == scripts.AmountMismatch {
		return cacheResult{}, amountMismatch("reduce", args.Amount, args.Key, r)
	}
	return result(addUsageArgs{Key: args.Key}, r)
}

// record returns the idempotency record's key, the add's record's key, the retention
// (ms, 0 for no record) and the mode that the add and reduce scripts take.
func record(idem idempotencyArgs) (recordKey, addRecordKey string, retention, mode int64) {
	if idem.RecordKey == "" {
		return "", "", 0, scripts.RecordNone
	}
	mode = scripts.RecordOutcome
	if idem.Forget {
		mode = scripts.RecordForget
	}
	return idem.RecordKey, idem.AddRecordKey, scripts.Milliseconds(idem.Retention), mode
}

func (c *store) AddUsages(ctx context.Context, quotas []addUsageArgs) (multiResult, error) {
	keys := make([]string, len(quotas))
	limits, absent := make([]int64, len(quotas)), make([]int64, len(quotas))
	for i, q := range quotas {
		keys[i], limits[i], absent[i] = q.Key, q.Limit, absentArg(q)
	}
	reply, err := c.run(ctx, multiAddScript, withAllHoldBuckets(keys), scripts.MultiAddArgs(quotas[0].Amount, limits, absent)...)
	return toMultiResult(keys, reply, err)
}

func (c *store) ReduceUsages(ctx context.Context, keys []string, amount int64) (multiResult, error) {
	reply, err := c.run(ctx, multiReduceScript, withAllHoldBuckets(keys), amount)
	return toMultiResult(keys, reply, err)
}

// holdBucketsKey returns the key of the hold buckets of the usage at usageKey, which the
// usage scripts sweep first (see internal/scripts/holds_release.lua).
func holdBucketsKey(usageKey string) string {
	buckets, _ := HoldKeys(usageKey, "")
	return buckets
}

// withAllHoldBuckets returns usageKeys followed by their hold buckets, in the same order.
func withAllHoldBuckets(usageKeys []string) []string {
	keys := make([]string, len(usageKeys), 2*len(usageKeys))
	copy(keys, usageKeys)
	for _, key := range usageKeys {
		keys = append(keys, holdBucketsKey(key))
	}
	return keys
}

func (c *store) ChangeHold(ctx context.Context, args holdArgs) (cacheResult, error) {
	buckets, hold := HoldKeys(args.Key, args.HoldID)
	keys := []string{args.Key, buckets, hold}
	absent := absentArg(addUsageArgs{CreateMissing: args.CreateMissing, Expiration: args.Expiration})
	r, err := c.runReply(ctx, holdScript, args.Key, func() string { return fmt.Sprintf("change hold %q on %q", args.HoldID, args.Key) }, keys,
		scripts.HoldArgs(scripts.HoldModes[args.Op], args.Amount, args.Limit,
			scripts.Milliseconds(args.HoldFor), scripts.Milliseconds(args.Retention), absent)...)
	if err != nil {
		return cacheResult{}, err
	}
	if r.Status == scripts.AmountMismatch {
		return cacheResult{}, amountMismatch("reserve", args.Amount, args.Key, r)
	}
	if r.Status == scripts.WrongType && r.Key != args.Key { // the buckets or the hold's record
		return cacheResult{}, fmt.Errorf("%w: key %q holds a %s, not a hash", ErrInvalidCachedUsage, r.Key, r.Raw)
	}
	return result(addUsageArgs{Key: args.Key}, r)
}

func (c *store) SetUsageIfAbsent(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error) {
	reply, err := c.run(ctx, setScript, []string{key}, scripts.SetArgs(value, scripts.Milliseconds(expiration), scripts.SetIfAbsent)...)
	if err != nil {
		return false, fmt.Errorf("set %q: %w", key, err)
	}
	return reply == int64(scripts.SetStored), nil
}

func (c *store) SetValue(ctx context.Context, key string, value int64, expiration time.Duration) error {
	if _, err := c.run(ctx, setScript, []string{key}, scripts.SetArgs(value, scripts.Milliseconds(expiration), scripts.SetAlways)...); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

// DeleteUsage deletes the usage at key and the keys in drop (state derived from the usage,
// such as its hold buckets) in one atomic step, and returns the usage it deleted; found is
// false when the key was absent (drop is deleted all the same). A key that holds something
// andromeda did not write fails with an error wrapping ErrInvalidCachedUsage, and nothing
// is deleted. drop must share key's cluster hash slot.
func (c *store) DeleteUsage(ctx context.Context, key string, drop []string) (int64, bool, error) {
	keys := append(append(make([]string, 0, 1+len(drop)), key), drop...)
	r, err := c.runReply(ctx, forgetScript, key, func() string { return fmt.Sprintf("delete usage of %q", key) }, keys)
	if err != nil {
		return 0, false, err
	}
	res, err := result(addUsageArgs{Key: key}, r)
	if err != nil {
		return 0, false, err
	}
	return res.Usage, res.Status == cacheApplied, nil
}

func (c *store) GetUsage(ctx context.Context, key string) (int64, bool, error) {
	usages, found, err := c.GetUsages(ctx, []string{key})
	if err != nil {
		return 0, false, err
	}
	return usages[0], found[0], nil
}

// ReadUsage reads the usage at key and the amount its holds count in it (at most the
// usage), in one step; found is false when the usage is absent.
func (c *store) ReadUsage(ctx context.Context, key string) (usage, held int64, found bool, err error) {
	r, err := c.runReply(ctx, readUsageScript, key, func() string { return fmt.Sprintf("read usage of %q", key) }, []string{key, holdBucketsKey(key)})
	if err != nil && ctx.Err() != nil {
		return 0, 0, false, fmt.Errorf("read usage of %q: %w", key, ctx.Err())
	}
	if errors.Is(err, ErrUnknownOutcome) { // a read changes nothing: only its answer is lost
		return 0, 0, false, fmt.Errorf("read usage of %q: %w (%v)", key, ErrRedisUnavailable, err)
	}
	if err != nil {
		return 0, 0, false, err
	}
	res, err := result(addUsageArgs{Key: key}, r)
	if err != nil {
		return 0, 0, false, err
	}
	if res.Status != cacheApplied {
		return 0, 0, false, nil
	}
	return res.Usage, r.Limit, true, nil
}

func (c *store) GetUsages(ctx context.Context, keys []string) ([]int64, []bool, error) {
	raws, found, err := c.cache.Get(ctx, keys)
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		// The transport does not say which key: name them all.
		return nil, nil, fmt.Errorf("%w: one of the keys %q is not a string (%v)", ErrInvalidCachedUsage, keys, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get usage of %d keys: %w", len(keys), unavailable(err))
	}
	if len(raws) != len(keys) || len(found) != len(keys) { // a transport that breaks Get's contract
		return nil, nil, fmt.Errorf("get usage of %d keys: %w: the Cache returned %d values and %d found flags",
			len(keys), ErrRedisUnavailable, len(raws), len(found))
	}
	usages := make([]int64, len(keys))
	for i, raw := range raws {
		if !found[i] {
			continue
		}
		var ok bool
		if usages[i], ok = scripts.ParseUsage(raw); !ok {
			return nil, nil, notInteger(keys[i], raw)
		}
	}
	return usages, found, nil
}

// absentArg is what the scripts do with an absent usage (see scripts.AbsentArg).
func absentArg(args addUsageArgs) int64 {
	return scripts.AbsentArg(args.CreateMissing, scripts.Milliseconds(args.Expiration))
}

// result turns a parsed script reply into a CacheResult.
func result(args addUsageArgs, r scripts.Reply) (cacheResult, error) {
	if scripts.Invalid(r.Status) {
		key := r.Key
		if key == "" { // a script that does not name the key
			key = args.Key
		}
		return cacheResult{}, invalidValue(r.Status, key, r.Raw)
	}
	status, err := statusOf(r.Status)
	if err != nil {
		return cacheResult{}, unreadable(changeOf(args.Key), err)
	}
	return cacheResult{Status: status, Usage: r.Usage, Limit: r.Limit, Replayed: r.Replayed}, nil
}

func toMultiResult(keys []string, reply any, err error) (multiResult, error) {
	if err != nil {
		return multiResult{}, runError(strings.Join(keys, ", "), err)
	}
	r, err := scripts.ParseMulti(reply)
	if err != nil {
		return multiResult{}, unreadable(fmt.Sprintf("change usage of %v", keys), err)
	}
	if !fits(r, len(keys)) {
		return multiResult{}, unreadable(fmt.Sprintf("change usage of %v", keys), fmt.Errorf("unexpected script reply %v", reply))
	}
	if scripts.Invalid(r.Status) {
		key := keys[r.Index]
		if r.Key != "" { // the quota's hold buckets
			key = r.Key
		}
		return multiResult{Index: r.Index}, invalidValue(r.Status, key, r.Raw) // Index: the quota it names
	}
	status, err := statusOf(r.Status)
	if err != nil {
		return multiResult{}, unreadable(fmt.Sprintf("change usage of %v", keys), err)
	}
	return multiResult{Status: status, Index: r.Index, Usages: r.Usages}, nil
}

// fits reports whether a multi-quota reply names a quota of the quotas sent (all but an
// applied one do) and, when it carries usages, one for each.
func fits(r scripts.MultiReply, quotas int) bool {
	if r.Status != scripts.Applied && (r.Index < 0 || r.Index >= quotas) {
		return false
	}
	hasUsages := r.Status == scripts.Applied || r.Status == scripts.LimitExceeded || r.Status == scripts.BelowZero
	return !hasUsages || len(r.Usages) == quotas
}

// changeOf names the change of the usage at key, for errors.
func changeOf(key string) string { return fmt.Sprintf("change usage of %q", key) }

// invalidValue is the error for a script's NotInteger or WrongType reply about key.
func invalidValue(status int64, key, raw string) error {
	if status == scripts.WrongType {
		return wrongType(key, raw)
	}
	return notInteger(key, raw)
}

func notInteger(key, raw string) error {
	return fmt.Errorf("%w: key %q holds %q", ErrInvalidCachedUsage, key, raw)
}

func wrongType(key, typ string) error {
	return fmt.Errorf("%w: key %q holds a %s, not the type andromeda keeps there", ErrInvalidCachedUsage, key, typ)
}

// crossSlot reports whether err is Redis's CROSSSLOT reply: the keys of one call are in
// several hash slots, and the script did not run.
func crossSlot(err error) bool { return strings.HasPrefix(err.Error(), "CROSSSLOT") }

// runError wraps a failed script call; a CROSSSLOT reply becomes ErrCrossSlot.
func runError(keys string, err error) error {
	if crossSlot(err) {
		return fmt.Errorf("change usage of %s: %w (%v)", keys, ErrCrossSlot, err)
	}
	return fmt.Errorf("change usage of %s: %w", keys, err)
}

// unreadable names a reply the store cannot read: the transport says the script ran, but
// not what it did, so the change may have been applied.
func unreadable(what string, err error) error {
	return fmt.Errorf("%s: %w: the reply cannot be read: %w", what, ErrUnknownOutcome, err)
}

// statusOf names a script's status code (see internal/scripts).
func statusOf(code int64) (cacheStatus, error) {
	switch code {
	case scripts.Applied:
		return cacheApplied, nil
	case scripts.Missing:
		return cacheMissing, nil
	case scripts.LimitExceeded:
		return cacheLimitExceeded, nil
	case scripts.BelowZero:
		return cacheBelowZero, nil
	case scripts.LimitMissing:
		return cacheLimitMissing, nil
	case scripts.HoldExpired:
		return cacheHoldExpired, nil
	case scripts.HoldCancelled:
		return cacheHoldCancelled, nil
	case scripts.HoldNotFound:
		return cacheHoldNotFound, nil
	case scripts.HoldCommitted:
		return cacheHoldCommitted, nil
	}
	return 0, fmt.Errorf("unexpected script status %d", code)
}
