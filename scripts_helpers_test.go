package andromeda_test

import (
	"context"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/ramadani/andromeda/internal/storehook"
	"github.com/ramadani/andromeda/internal/storetypes"
)

// The SHA1s of the library's scripts, for the test transports that act on one of them.
var (
	addSHA        = andromeda.NewScript(scripts.Add).SHA1()
	addBatchSHA   = andromeda.NewScript(scripts.AddBatch).SHA1()
	reduceSHA     = andromeda.NewScript(scripts.Reduce).SHA1()
	holdSHA       = andromeda.NewScript(scripts.Hold).SHA1()
	fencedLoadSHA = andromeda.NewScript(scripts.FencedLoad).SHA1()
)

// usageStore is the library's store over a Cache, for the tests that read or change
// usage below the public API (a replay, a late copy of a request).
type usageStore interface {
	AddUsage(ctx context.Context, args storetypes.AddUsageArgs) (storetypes.CacheResult, error)
	GetUsage(ctx context.Context, key string) (usage int64, found bool, err error)
}

// storeOf returns the library's store over cache.
func storeOf(cache andromeda.Cache) usageStore { return storehook.New(cache).(usageStore) }

// decodeAdds returns the adds a call of add.lua or add_batch.lua carries (see
// internal/scripts), with the fields those scripts take from their arguments; nil for a
// call of another script.
func decodeAdds(s *andromeda.Script, keys []string, args []any) []storetypes.AddUsageArgs {
	switch s.SHA1() {
	case addSHA: // amount, limit, absent, hasLimitKey, ...
		a := storetypes.AddUsageArgs{Key: keys[0], Amount: args[0].(int64), Limit: args[1].(int64)}
		absent(&a, args[2].(int64))
		if args[3] == 1 {
			a.LimitKey = keys[1]
		}
		return []storetypes.AddUsageArgs{a}
	case addBatchSHA: // absent, n, the amounts, then no limit (a limit key), one, or n
		n := int(args[1].(int64))
		var adds []storetypes.AddUsageArgs
		for i := 0; i < n; i++ {
			a := storetypes.AddUsageArgs{Key: keys[0], Amount: args[2+i].(int64)}
			switch {
			case len(keys) == 3: // usage, limit, hold buckets
				a.LimitKey = keys[1]
			case len(args) == n+3:
				a.Limit = args[n+2].(int64)
			default:
				a.Limit = args[n+2+i].(int64)
			}
			absent(&a, args[0].(int64))
			adds = append(adds, a)
		}
		return adds
	}
	return nil
}

// absent sets what an add does with an absent key from the scripts' argument: -1 reports
// it missing, 0 or more creates it with that expiration in milliseconds.
func absent(a *storetypes.AddUsageArgs, ms int64) {
	if ms >= 0 {
		a.CreateMissing, a.Expiration = true, time.Duration(ms)*time.Millisecond
	}
}

// decodeResults returns the outcome of each add or reduce in a reply of add.lua,
// add_batch.lua or reduce.lua; adds are the adds the call carried (decodeAdds).
func decodeResults(s *andromeda.Script, reply any, adds []storetypes.AddUsageArgs) ([]storetypes.CacheResult, error) {
	var replies []scripts.Reply
	if s.SHA1() == addBatchSHA {
		amounts, limits := make([]int64, len(adds)), make([]int64, len(adds))
		for i, a := range adds {
			amounts[i], limits[i] = a.Amount, a.Limit
		}
		var err error
		if replies, err = scripts.ParseBatch(reply, amounts, limits); err != nil {
			return nil, err
		}
	} else {
		r, err := scripts.Parse(reply)
		if err != nil {
			return nil, err
		}
		replies = []scripts.Reply{r}
	}
	results := make([]storetypes.CacheResult, len(replies))
	for i, r := range replies {
		results[i] = storetypes.CacheResult{Status: storetypes.CacheStatus(r.Status), Usage: r.Usage, Limit: r.Limit, Replayed: r.Replayed}
	}
	return results, nil
}
