package andromeda

import (
	"context"
	"fmt"
)

// ForgetUsage makes Redis forget the usage at usageKey, so that the next change on the
// quota finds it missing and loads it from your database (GetQuotaUsage) under the
// loader's fenced lock, and returns the usage it forgot; found is false when Redis held
// none. It is one atomic step: a change that runs at the same time is applied wholly
// before it (and forgotten with the usage) or wholly after it (and finds the usage
// missing).
//
// The quota's open holds are forgotten with the usage, since the usage counted them: its
// hold buckets are deleted in the same step, as the loader deletes them when it stores a
// loaded usage. A later Commit of such a hold fails with ErrHoldExpired, and its Cancel
// changes nothing (the reloaded usage never counted it). Idempotency records stay: a
// repeated Do replays its recorded outcome and changes nothing. The limit kept in Redis
// (LimitKey) stays too; change it with SetQuotaLimit.
//
// What Redis counted and your database does not have yet is lost, as when Redis evicts
// the key: run your write-back job (ReadCachedUsages) first, and forget a quota when no
// Do is between its add and its Next, since the undo of a Do whose Next fails after the
// forget takes its add back from a usage loaded without it.
func ForgetUsage(ctx context.Context, cache Cache, usageKey string) (usage int64, found bool, err error) {
	if usageKey == "" {
		return 0, false, invalid("empty usage key")
	}
	usage, found, err = newStore(cache).DeleteUsage(ctx, usageKey, holdBuckets(usageKey))
	if err != nil {
		return 0, false, fmt.Errorf("forget usage of %q: %w", usageKey, err)
	}
	return usage, found, nil
}
