// Package andromeda keeps the usage of quotas (voucher claims, flash-sale stock, seats,
// credits) in Redis and changes it safely when many requests race for the same quota.
//
// An add is one atomic step in Redis: it is applied only if usage+n stays within the
// limit, so nothing is ever oversold and no request that fits is turned away. A reduce
// never takes usage below zero. When the usage key is missing, the usage is loaded once
// from your database (GetQuotaUsage) under a lock, and the change is retried; a missing
// key is never taken as zero while a loader is configured.
//
// The root package knows no Redis client: pass a Cache from an adapter package such as
// github.com/ramadani/andromeda/cache/redisv9.
package andromeda

import (
	"context"
	"time"
)

// QuotaRequest identifies the quota that the configured functions are asked about.
type QuotaRequest struct {
	QuotaID string
	// Data is passed through untouched to your functions, for whatever they need.
	Data any
}

// QuotaUsageRequest asks to add usage to a quota, or to reduce it.
type QuotaUsageRequest struct {
	QuotaID string
	// Usage is the amount to add or reduce; it must be positive.
	Usage int64
	// Data is passed through untouched to your functions, for whatever they need.
	Data any
	// IdempotencyKey, when set, makes the change apply at most once within the retention
	// window (Option.IdempotencyRetention, an hour by default): a repeat of an add with the
	// same key and amount returns the first outcome, the same usage or the same kind of
	// error, and changes nothing; of another amount it fails with ErrInvalidRequest and
	// changes nothing (as a hold's Reserve does). Use one key per claim, such as an order ID: a resent script or a
	// retried Do then counts once. The record is written by the same atomic script as the
	// usage, beside it in the same cluster hash slot.
	//
	// A key names one claim: its add, the reduce that compensates it, and their retries.
	// A reduce with the key of an applied add takes that add back (its amount, which the
	// reduce must carry, or it fails with ErrInvalidRequest) and marks the add taken
	// back, in one script: a repeat of the reduce changes nothing more, and a retry of the
	// add is a fresh attempt, applied or refused as any add. After an add that was refused
	// or taken back, the reduce changes nothing and succeeds. So add, failed insert,
	// reduce, retry... leaves usage equal to the claims kept, when each step waits for the
	// one before. When Next fails, the undo works the same way. A reduce with a key that no add recorded (a refund ID) is a
	// reduce of its own, applied at most once. Coalesced adds with a key are sent alone;
	// AddMultiQuotaUsage and ReduceMultiQuotaUsage do not take one. For NewQuotaHolds it
	// is the hold's ID (required): a hold is the claim it names.
	IdempotencyKey string
}

// GetQuota returns a number for a quota: its limit (GetQuotaLimit) or its usage as kept
// in your database (GetQuotaUsage).
type GetQuota interface {
	Do(ctx context.Context, req *QuotaRequest) (int64, error)
}

// GetQuotaKey returns the Redis key that holds a quota's usage. Keys that must share a
// Redis Cluster hash slot can use a hash tag, e.g. "{campaign-42}:usage".
type GetQuotaKey interface {
	Do(ctx context.Context, req *QuotaRequest) (string, error)
}

// GetQuotaExpiration returns how long a quota's usage is kept in Redis once it is
// stored there; 0 keeps it without expiration.
type GetQuotaExpiration interface {
	Do(ctx context.Context, req *QuotaRequest) (time.Duration, error)
}

// UpdateQuotaUsage changes a quota's usage. AddQuotaUsage and ReduceQuotaUsage return
// one; you can write your own to chain as Next.
type UpdateQuotaUsage interface {
	// Do applies the change and returns the quota's usage after it. On error it returns
	// 0 and a *QuotaError (or the error of a Next step) whose sentinel tells what was
	// kept: nothing for a refusal or ErrRedisUnavailable, maybe the change for
	// ErrUnknownOutcome, the change for ErrUndoFailed.
	Do(ctx context.Context, req *QuotaUsageRequest) (int64, error)
}

// GetQuotaFunc adapts a function to GetQuota.
type GetQuotaFunc func(ctx context.Context, req *QuotaRequest) (int64, error)

// Do calls f.
func (f GetQuotaFunc) Do(ctx context.Context, req *QuotaRequest) (int64, error) { return f(ctx, req) }

// GetQuotaKeyFunc adapts a function to GetQuotaKey.
type GetQuotaKeyFunc func(ctx context.Context, req *QuotaRequest) (string, error)

// Do calls f.
func (f GetQuotaKeyFunc) Do(ctx context.Context, req *QuotaRequest) (string, error) {
	return f(ctx, req)
}

// GetQuotaExpirationFunc adapts a function to GetQuotaExpiration.
type GetQuotaExpirationFunc func(ctx context.Context, req *QuotaRequest) (time.Duration, error)

// Do calls f.
func (f GetQuotaExpirationFunc) Do(ctx context.Context, req *QuotaRequest) (time.Duration, error) {
	return f(ctx, req)
}

// UpdateQuotaUsageFunc adapts a function to UpdateQuotaUsage.
type UpdateQuotaUsageFunc func(ctx context.Context, req *QuotaUsageRequest) (int64, error)

// Do calls f.
func (f UpdateQuotaUsageFunc) Do(ctx context.Context, req *QuotaUsageRequest) (int64, error) {
	return f(ctx, req)
}

// GetQuotaUsageConfig paces the loading of a missing usage key. Zero fields take the
// defaults: LockIn 3s, MaxRetry 10, RetryIn 100ms.
type GetQuotaUsageConfig struct {
	// LockIn is how long the loader lock is held at most (at least 1ms), and so how long other
	// processes wait for a loader that died. A change that finds another process loading
	// waits for it at most twice LockIn in all (and never past its context): time for a
	// holder that died to lose the lock, and for the next loader to load.
	LockIn time.Duration
	// MaxRetry is how many times a change is retried after a load that left the usage in
	// Redis, when it finds the usage missing again (evicted as soon as loaded). Waiting
	// for another process's load is bounded by time (LockIn), not by this count.
	MaxRetry int
	// RetryIn is the longest wait between two looks while another process holds the
	// loader lock: the waits start at 1ms and double up to RetryIn, so that a change
	// learns soon after the loaded value lands.
	RetryIn time.Duration
}

// Defaults for GetQuotaUsageConfig.
const (
	DefaultLockIn   = 3 * time.Second
	DefaultMaxRetry = 10
	DefaultRetryIn  = 100 * time.Millisecond
)

func (c GetQuotaUsageConfig) withDefaults() GetQuotaUsageConfig {
	if c.LockIn <= 0 {
		c.LockIn = DefaultLockIn
	}
	// Redis counts a lock's time in whole milliseconds: less would be PX 0, an error.
	c.LockIn = max(c.LockIn, time.Millisecond)
	if c.MaxRetry <= 0 {
		c.MaxRetry = DefaultMaxRetry
	}
	if c.RetryIn <= 0 {
		c.RetryIn = DefaultRetryIn
	}
	return c
}

// DefaultIdempotencyRetention is how long an idempotency record is kept by default: a
// retry window, not a day. It covers the library's own resends (under a second), a
// claim's compensating reduce, and the retries of clients and queues at their usual
// settings (seconds to minutes), with room to spare. Records cost Redis memory in
// proportion: records per second x retention x about 200 bytes (a day of 1,000 keyed
// claims a second is about 18 GB; an hour, 0.75 GB). A repeat that comes after its
// record expired is a fresh attempt, so set Option.IdempotencyRetention to the longest
// time your retries can take (a queue's redelivery limit, a user resubmitting).
const DefaultIdempotencyRetention = time.Hour

// maxIdempotencyKey bounds the length of an idempotency key.
const maxIdempotencyKey = 256

// MaxAmount is the largest usage, limit or requested amount andromeda accepts: the
// scripts compare numbers in Lua, which is exact up to 2^53.
const MaxAmount = 1 << 53

const (
	opAdd    = OpAdd
	opReduce = OpReduce
)
