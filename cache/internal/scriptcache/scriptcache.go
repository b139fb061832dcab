// Package scriptcache implements andromeda.Cache once, over the few calls it needs from a
// Redis client; each adapter supplies them for its go-redis version.
package scriptcache

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
)

// Script names one of the scripts in internal/scripts.
type Script int

// The scripts a Client runs.
const (
	Add         Script = iota // scripts.Add
	AddBatch                  // scripts.AddBatch
	Reduce                    // scripts.Reduce
	MultiAdd                  // scripts.MultiAdd
	MultiReduce               // scripts.MultiReduce
	Hold                      // scripts.Hold
	FencedLoad                // scripts.FencedLoad
	Forget                    // scripts.Forget
)

// Sources maps each Script to its Lua source, for the adapters to load.
var Sources = map[Script]string{
	Add:         scripts.Add,
	AddBatch:    scripts.AddBatch,
	Reduce:      scripts.Reduce,
	MultiAdd:    scripts.MultiAdd,
	MultiReduce: scripts.MultiReduce,
	Hold:        scripts.Hold,
	FencedLoad:  scripts.FencedLoad,
	Forget:      scripts.Forget,
}

// Client is what the cache needs from a Redis client, in types that do not depend on the
// client's version.
type Client interface {
	// Run runs the script by its SHA1, sending its source only when the server answers
	// NOSCRIPT, and returns the raw reply. It sends the script at most once: the client
	// must not resend it after it may have been written (see transport.go). An error
	// from before the request was written wraps ErrNotSent; an error reply from Redis
	// is returned as the client types it (with a RedisError method).
	Run(ctx context.Context, script Script, keys []string, args ...interface{}) (interface{}, error)
	// SetNX sets key to value with the expiration (0 means none) if key is absent.
	SetNX(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error)
	// Set sets key to value with the expiration (0 means none).
	Set(ctx context.Context, key string, value int64, expiration time.Duration) error
	// Get returns the values at keys, and whether each key exists, in as few round
	// trips as the client can.
	Get(ctx context.Context, keys []string) ([]string, []bool, error)
	// Lock takes a lock on key that expires after ttl, as andromeda.Cache's Lock, and
	// returns the token the key holds while the lock is held, and how to release it.
	Lock(ctx context.Context, key string, ttl time.Duration) (token string, release func(context.Context) error, err error)
}

// New returns an andromeda.Cache over client.
func New(client Client) andromeda.Cache { return &cache{client} }

type cache struct {
	client Client
}

func (c *cache) AddUsage(ctx context.Context, args andromeda.AddUsageArgs) (andromeda.CacheResult, error) {
	keys := append(make([]string, 0, 4), args.Key) // room for the limit, record and hold buckets
	hasLimitKey := 0
	if args.LimitKey != "" {
		keys, hasLimitKey = append(keys, args.LimitKey), 1
	}
	keys, retention, mode := withRecord(keys, args.Idempotency)
	keys = withHoldBuckets(keys, args.Key)
	reply, err := c.run(ctx, Add, keys, args.Amount, args.Limit, absentArg(args), hasLimitKey, retention, mode, args.Idempotency.Attempt)
	if err != nil {
		return andromeda.CacheResult{}, runError(args.Key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return andromeda.CacheResult{}, fmt.Errorf("change usage of %q: %w", args.Key, err)
	}
	return result(args, r)
}

func (c *cache) AddUsageBatch(ctx context.Context, batch []andromeda.AddUsageArgs) ([]andromeda.CacheResult, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	args := make([]interface{}, 0, 1+2*len(batch))
	args = append(args, absentArg(batch[0]))
	for _, a := range batch {
		args = append(args, a.Amount, a.Limit)
	}
	keys := []string{batch[0].Key}
	if batch[0].LimitKey != "" {
		keys = append(keys, batch[0].LimitKey)
	}
	keys = withHoldBuckets(keys, batch[0].Key)
	reply, err := c.run(ctx, AddBatch, keys, args...)
	if err != nil {
		return nil, runError(batch[0].Key, err)
	}
	replies, err := scripts.ParseBatch(reply)
	if err != nil {
		return nil, fmt.Errorf("change usage of %q: %w", batch[0].Key, err)
	}
	if len(replies) == 1 && scripts.Invalid(replies[0].Status) {
		_, err := result(batch[0], replies[0])
		return nil, err
	}
	if len(replies) != len(batch) {
		return nil, fmt.Errorf("change usage of %q: %d results for %d adds", batch[0].Key, len(replies), len(batch))
	}
	results := make([]andromeda.CacheResult, len(replies))
	for i, r := range replies {
		if results[i], err = result(batch[i], r); err != nil {
			return nil, err
		}
	}
	return results, nil
}

func (c *cache) ReduceUsage(ctx context.Context, args andromeda.ReduceUsageArgs) (andromeda.CacheResult, error) {
	keys, retention, mode := withRecord(append(make([]string, 0, 3), args.Key), args.Idempotency)
	keys = withHoldBuckets(keys, args.Key)
	reply, err := c.run(ctx, Reduce, keys, args.Amount, retention, mode, args.Idempotency.Attempt)
	if err != nil {
		return andromeda.CacheResult{}, runError(args.Key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return andromeda.CacheResult{}, fmt.Errorf("change usage of %q: %w", args.Key, err)
	}
	if r.Status == scripts.AmountMismatch {
		return andromeda.CacheResult{}, fmt.Errorf("%w: reduce %d from %q with the idempotency key of an add of %d (recorded at %q)",
			andromeda.ErrInvalidRequest, args.Amount, args.Key, r.Usage, r.Key)
	}
	return result(andromeda.AddUsageArgs{Key: args.Key}, r)
}

// withRecord adds an idempotency record's key, and the add's record when set, to keys,
// and returns the scripts' retention (ms, 0 for no record) and mode arguments.
func withRecord(keys []string, idem andromeda.Idempotency) ([]string, int64, int64) {
	if idem.RecordKey == "" {
		return keys, 0, scripts.RecordNone
	}
	mode := int64(scripts.RecordOutcome)
	if idem.Forget {
		mode = scripts.RecordForget
	}
	keys = append(keys, idem.RecordKey)
	if idem.AddRecordKey != "" && idem.AddRecordKey != idem.RecordKey {
		keys = append(keys, idem.AddRecordKey)
	}
	return keys, scripts.Milliseconds(idem.Retention), mode
}

func (c *cache) AddUsages(ctx context.Context, quotas []andromeda.AddUsageArgs) (andromeda.MultiResult, error) {
	keys := make([]string, len(quotas))
	args := make([]interface{}, 0, 1+2*len(quotas))
	args = append(args, quotas[0].Amount)
	for i, q := range quotas {
		keys[i] = q.Key
		args = append(args, q.Limit, absentArg(q))
	}
	reply, err := c.run(ctx, MultiAdd, withAllHoldBuckets(keys), args...)
	return multiResult(keys, reply, err)
}

func (c *cache) ReduceUsages(ctx context.Context, keys []string, amount int64) (andromeda.MultiResult, error) {
	reply, err := c.run(ctx, MultiReduce, withAllHoldBuckets(keys), amount)
	return multiResult(keys, reply, err)
}

// withHoldBuckets appends the hold buckets of the usage at usageKey, which the usage
// scripts sweep first (see internal/scripts/holds_release.lua): last, so that the scripts'
// other keys keep their places.
func withHoldBuckets(keys []string, usageKey string) []string {
	buckets, _ := andromeda.HoldKeys(usageKey, "")
	return append(keys, buckets)
}

// withAllHoldBuckets returns usageKeys followed by their hold buckets, in the same order.
func withAllHoldBuckets(usageKeys []string) []string {
	keys := make([]string, len(usageKeys), 2*len(usageKeys))
	copy(keys, usageKeys)
	for _, key := range usageKeys {
		keys = withHoldBuckets(keys, key)
	}
	return keys
}

var holdModes = map[andromeda.HoldOp]string{andromeda.HoldReserve: "reserve", andromeda.HoldCommit: "commit", andromeda.HoldCancel: "cancel"}

func (c *cache) ChangeHold(ctx context.Context, args andromeda.HoldArgs) (andromeda.CacheResult, error) {
	buckets, hold := andromeda.HoldKeys(args.Key, args.HoldID)
	keys := []string{args.Key, buckets, hold}
	absent := absentArg(andromeda.AddUsageArgs{CreateMissing: args.CreateMissing, Expiration: args.Expiration})
	reply, err := c.run(ctx, Hold, keys, holdModes[args.Op], args.Amount, args.Limit,
		scripts.Milliseconds(args.HoldFor), scripts.Milliseconds(args.Retention), absent)
	if err != nil {
		return andromeda.CacheResult{}, runError(args.Key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return andromeda.CacheResult{}, fmt.Errorf("change hold %q on %q: %w", args.HoldID, args.Key, err)
	}
	if r.Status == scripts.WrongType && r.Key != args.Key { // the buckets or the hold's record
		return andromeda.CacheResult{}, fmt.Errorf("%w: key %q holds a %s, not a hash", andromeda.ErrInvalidCachedUsage, r.Key, r.Raw)
	}
	return result(andromeda.AddUsageArgs{Key: args.Key}, r)
}

func (c *cache) SetUsageIfAbsent(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error) {
	ok, err := c.client.SetNX(ctx, key, value, expiration)
	if err != nil {
		return false, fmt.Errorf("set %q: %w", key, unavailable(err))
	}
	return ok, nil
}

func (c *cache) SetValue(ctx context.Context, key string, value int64, expiration time.Duration) error {
	if err := c.client.Set(ctx, key, value, expiration); err != nil {
		return fmt.Errorf("set %q: %w", key, unavailable(err))
	}
	return nil
}

func (c *cache) DeleteUsage(ctx context.Context, key string, drop []string) (int64, bool, error) {
	keys := append(append(make([]string, 0, 1+len(drop)), key), drop...)
	reply, err := c.run(ctx, Forget, keys)
	if err != nil {
		return 0, false, runError(key, err)
	}
	r, err := scripts.Parse(reply)
	if err != nil {
		return 0, false, fmt.Errorf("delete usage of %q: %w", key, err)
	}
	res, err := result(andromeda.AddUsageArgs{Key: key}, r)
	if err != nil {
		return 0, false, err
	}
	return res.Usage, res.Status == andromeda.CacheApplied, nil
}

func (c *cache) GetUsage(ctx context.Context, key string) (int64, bool, error) {
	usages, found, err := c.GetUsages(ctx, []string{key})
	if err != nil {
		return 0, false, err
	}
	return usages[0], found[0], nil
}

func (c *cache) GetUsages(ctx context.Context, keys []string) ([]int64, []bool, error) {
	raws, found, err := c.client.Get(ctx, keys)
	if err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") {
		// The client does not say which key: name them all.
		return nil, nil, fmt.Errorf("%w: one of the keys %q is not a string (%v)", andromeda.ErrInvalidCachedUsage, keys, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get usage of %d keys: %w", len(keys), unavailable(err))
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

// absentArg tells the scripts what to do with an absent key: -1 reports it missing, 0 or
// more starts it at zero with that expiration in milliseconds.
func absentArg(args andromeda.AddUsageArgs) int64 {
	if !args.CreateMissing {
		return -1
	}
	return scripts.Milliseconds(args.Expiration)
}

// result turns a parsed script reply into a CacheResult.
func result(args andromeda.AddUsageArgs, r scripts.Reply) (andromeda.CacheResult, error) {
	if scripts.Invalid(r.Status) {
		key := r.Key
		if key == "" { // a script that does not name the key
			key = args.Key
		}
		if r.Status == scripts.WrongType {
			return andromeda.CacheResult{}, wrongType(key, r.Raw)
		}
		return andromeda.CacheResult{}, notInteger(key, r.Raw)
	}
	return andromeda.CacheResult{Status: andromeda.CacheStatus(r.Status), Usage: r.Usage, Limit: r.Limit, Replayed: r.Replayed}, nil
}

func multiResult(keys []string, reply interface{}, err error) (andromeda.MultiResult, error) {
	if err != nil {
		return andromeda.MultiResult{}, runError(strings.Join(keys, ", "), err)
	}
	r, err := scripts.ParseMulti(reply)
	if err != nil {
		return andromeda.MultiResult{}, fmt.Errorf("change usage of %v: %w", keys, err)
	}
	if scripts.Invalid(r.Status) {
		key := keys[r.Index]
		if r.Key != "" { // the quota's hold buckets
			key = r.Key
		}
		if r.Status == scripts.WrongType {
			return andromeda.MultiResult{}, wrongType(key, r.Raw)
		}
		return andromeda.MultiResult{}, notInteger(key, r.Raw)
	}
	return andromeda.MultiResult{Status: andromeda.CacheStatus(r.Status), Index: r.Index, Usages: r.Usages}, nil
}

func notInteger(key, raw string) error {
	return fmt.Errorf("%w: key %q holds %q", andromeda.ErrInvalidCachedUsage, key, raw)
}

func wrongType(key, typ string) error {
	return fmt.Errorf("%w: key %q holds a %s, not the type andromeda keeps there", andromeda.ErrInvalidCachedUsage, key, typ)
}

// runError wraps a failed script call; a CROSSSLOT reply becomes ErrCrossSlot.
func runError(keys string, err error) error {
	if strings.HasPrefix(err.Error(), "CROSSSLOT") {
		return fmt.Errorf("change usage of %s: %w (%v)", keys, andromeda.ErrCrossSlot, err)
	}
	return fmt.Errorf("change usage of %s: %w", keys, err)
}
