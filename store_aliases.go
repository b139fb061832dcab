package andromeda

import "github.com/ramadani/andromeda/internal/storetypes"

// The store's arguments and results (see internal/storetypes).
type (
	addUsageArgs    = storetypes.AddUsageArgs
	reduceUsageArgs = storetypes.ReduceUsageArgs
	holdArgs        = storetypes.HoldArgs
	holdOp          = storetypes.HoldOp
	cacheResult     = storetypes.CacheResult
	cacheStatus     = storetypes.CacheStatus
	multiResult     = storetypes.MultiResult
	loadArgs        = storetypes.LoadArgs
	idempotencyArgs = storetypes.Idempotency
)

// The statuses of a usage change, and the hold operations.
const (
	holdReserve        = storetypes.HoldReserve
	holdCommit         = storetypes.HoldCommit
	holdCancel         = storetypes.HoldCancel
	cacheApplied       = storetypes.CacheApplied
	cacheMissing       = storetypes.CacheMissing
	cacheLimitExceeded = storetypes.CacheLimitExceeded
	cacheBelowZero     = storetypes.CacheBelowZero
	cacheLimitMissing  = storetypes.CacheLimitMissing
	cacheHoldExpired   = storetypes.CacheHoldExpired
	cacheHoldCancelled = storetypes.CacheHoldCancelled
	cacheHoldNotFound  = storetypes.CacheHoldNotFound
	cacheHoldCommitted = storetypes.CacheHoldCommitted
)
