package redisv8_test

import (
	"context"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storehook"
	"github.com/ramadani/andromeda/internal/storetypes"
)

// usageStore is the library's store over a Cache: the tests that check what the adapter
// does under the library's scripts (WAIT, deadlines, topology changes) go through it.
type usageStore interface {
	AddUsage(ctx context.Context, args storetypes.AddUsageArgs) (storetypes.CacheResult, error)
	ReduceUsage(ctx context.Context, args storetypes.ReduceUsageArgs) (storetypes.CacheResult, error)
	ChangeHold(ctx context.Context, args storetypes.HoldArgs) (storetypes.CacheResult, error)
	GetUsage(ctx context.Context, key string) (usage int64, found bool, err error)
}

// storeOver returns the library's store over cache.
func storeOver(cache andromeda.Cache) usageStore { return storehook.New(cache).(usageStore) }
