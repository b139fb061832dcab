package valkey_test

import (
	"context"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/storehook"
	"github.com/ramadani/andromeda/internal/storetypes"
)

// usageStore is the library's store over a Cache: the tests that check what the adapter
// does under the library's scripts (WAIT, deadlines, topology changes, cross-slot keys)
// go through it.
type usageStore interface {
	AddUsage(ctx context.Context, args storetypes.AddUsageArgs) (storetypes.CacheResult, error)
	AddUsages(ctx context.Context, args []storetypes.AddUsageArgs) (storetypes.MultiResult, error)
	ReduceUsage(ctx context.Context, args storetypes.ReduceUsageArgs) (storetypes.CacheResult, error)
	ChangeHold(ctx context.Context, args storetypes.HoldArgs) (storetypes.CacheResult, error)
	SetUsageIfAbsent(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error)
	SetValue(ctx context.Context, key string, value int64, expiration time.Duration) error
	GetUsage(ctx context.Context, key string) (usage int64, found bool, err error)
	GetUsages(ctx context.Context, keys []string) (usages []int64, found []bool, err error)
}

// storeOver returns the library's store over cache.
func storeOver(cache andromeda.Cache) usageStore { return storehook.New(cache).(usageStore) }
