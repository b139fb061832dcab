package andromeda_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var linearizabilityWorkload = workload{
	clients: 8, opsPerClient: 300, quotas: []string{"q1", "q2", "q3"}, limit: 20, maxAmount: 5, idempotent: 30,
}

// Histories of concurrent adds and reduces on real Redis are linearizable against a
// bounded counter: every result, including the usage each call reports, fits one order.
func TestLinearizable(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		db := newQuotaDB()
		for _, q := range linearizabilityWorkload.quotas {
			db.put(q, linearizabilityWorkload.limit, 0)
		}
		h := newHistory()
		linearizabilityWorkload.drive(h, time.Now().UnixNano(), newAdd(b, db, nil), newReduce(b, db, nil))
		require.Zero(t, h.unknown.Load(), "a healthy Redis leaves no outcome unknown")
		h.check(t)
		t.Logf("%d operations checked (%d with an idempotency key): %d applied, %d refused, %d invalid (an add or reduce with the key of an add of another amount)",
			len(h.ops), h.withKey(), h.applied.Load(), h.refused.Load(), h.invalid.Load())
		require.NotZero(t, h.invalid.Load(), "the workload reuses keys across adds and reduces of other amounts")
	})
}

// The checker is strong enough to catch the design andromeda avoids: increment, then
// check, then decrement on overflow (two round trips, as the original andromeda did).
func TestLinearizabilityCheckerCatchesIncrementThenCheck(t *testing.T) {
	b := standaloneBackend(t)
	broken := backend{name: "increment-then-check", client: b.client, cache: incrementThenCheck{b.cache, b.client}}
	db := newQuotaDB()
	for _, q := range linearizabilityWorkload.quotas {
		db.put(q, linearizabilityWorkload.limit, 0)
	}
	for attempt := 1; attempt <= 5; attempt++ {
		b.flush(t)
		h := newHistory()
		linearizabilityWorkload.drive(h, int64(attempt), newAdd(broken, db, nil), newReduce(broken, db, nil))
		if result, _ := porcupine.CheckOperationsVerbose(counterModel.ToModel(), h.ops, time.Minute); result == porcupine.Illegal {
			t.Logf("attempt %d: %d operations, not linearizable, as expected", attempt, len(h.ops))
			return
		}
	}
	t.Fatal("the checker passed an increment-then-check cache 5 times in a row")
}

// incrementThenCheck is a deliberately broken Cache: it counts first and gives back on
// overflow, so usage is briefly above the limit (or below zero) and requests that fit
// are refused meanwhile.
type incrementThenCheck struct {
	andromeda.Cache
	client redis.UniversalClient
}

func (c incrementThenCheck) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	switch s.SHA1() {
	case addSHA:
		a := decodeAdds(s, keys, args)[0]
		return c.change(ctx, a.Key, a.Amount, func(usage int64) bool { return usage > a.Limit }, scripts.LimitExceeded)
	case reduceSHA:
		return c.change(ctx, keys[0], -args[0].(int64), func(usage int64) bool { return usage < 0 }, scripts.BelowZero)
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}

// change adds delta to the usage at key, and takes it back when refuse says so, replying
// as add.lua and reduce.lua do ({status, usage}).
func (c incrementThenCheck) change(ctx context.Context, key string, delta int64, refuse func(int64) bool, refused int64) (any, error) {
	if n, err := c.client.Exists(ctx, key).Result(); err != nil || n == 0 {
		return []any{int64(scripts.Missing), int64(0)}, err
	}
	usage, err := c.client.IncrBy(ctx, key, delta).Result()
	if err != nil {
		return nil, err
	}
	if refuse(usage) {
		c.client.DecrBy(ctx, key, delta)
		return []any{refused, usage - delta}, nil
	}
	return []any{int64(scripts.Applied), usage}, nil
}

// The model knows the claim flow with an idempotency key: the reduce takes the add back
// and the add's retry is a fresh attempt. The old behaviour (the retry replays "success,
// usage 1" while usage stays 0, and Bob gets the last unit too) is not linearizable.
func TestModelClaimFlowWithIdempotencyKey(t *testing.T) {
	add := func(key string) opInput {
		return opInput{quota: "v", kind: opAddKind, amount: 1, limit: 1, idemKey: key}
	}
	reduce := func(key string, amount int64) opInput {
		return opInput{quota: "v", kind: opReduceKind, amount: amount, idemKey: key}
	}
	ok := func(usage int64) opOutput { return opOutput{outcome: applied, usage: usage} }
	sequential := func(steps ...any) []porcupine.Operation {
		var ops []porcupine.Operation
		for i := 0; i < len(steps); i += 2 {
			ops = append(ops, porcupine.Operation{Input: steps[i], Output: steps[i+1], Call: int64(2 * i), Return: int64(2*i + 1)})
		}
		return ops
	}
	model := counterModel.ToModel()
	now := sequential(add("A"), ok(1), reduce("A", 1), ok(0), reduce("A", 1), ok(0), add("A"), ok(1), add("A"), ok(1),
		add("B"), opOutput{outcome: refused, usage: 1}, reduce("A", 2), opOutput{outcome: invalid},
		reduce("B", 1), ok(1), reduce("R", 1), ok(0), reduce("R", 1), ok(0))
	require.True(t, porcupine.CheckOperations(model, now))
	before := sequential(add("A"), ok(1), reduce("A", 1), ok(0), add("A"), ok(1), add("B"), ok(1))
	require.False(t, porcupine.CheckOperations(model, before))
	addC := opInput{quota: "v", kind: opAddKind, amount: 1, limit: 2, idemKey: "C"}
	resentReduceTakesTwice := sequential(add("A"), ok(1), addC, ok(2), reduce("A", 1), ok(1), reduce("A", 1), ok(0))
	require.False(t, porcupine.CheckOperations(model, resentReduceTakesTwice))
}

// The models read an error wrapping ErrUnknownOutcome as "maybe applied" and one wrapping
// ErrRedisUnavailable as "not run": after an add of 5 to a quota of limit 5 of either
// kind, a refusal that found usage 5 fits the first history only.
func TestModelsReadUnknownOutcomeAsMaybeApplied(t *testing.T) {
	refusedAt := func(usage int64) func() (int64, error) {
		return func() (int64, error) {
			return 0, &andromeda.QuotaError{Op: "add", Usage: usage, Err: andromeda.ErrQuotaLimitExceeded}
		}
	}
	failing := func(sentinel error) func() (int64, error) {
		return func() (int64, error) { return 0, fmt.Errorf("add: %w", sentinel) }
	}
	for _, tc := range []struct {
		cause error
		want  porcupine.CheckResult
	}{{andromeda.ErrUnknownOutcome, porcupine.Ok}, {andromeda.ErrRedisUnavailable, porcupine.Illegal}} {
		h := newHistory()
		_ = h.record(0, opInput{quota: "q", amount: 5, limit: 5}, failing(tc.cause))
		_ = h.record(0, opInput{quota: "q", amount: 1, limit: 5}, refusedAt(5))
		result, _ := porcupine.CheckOperationsVerbose(counterModel.ToModel(), h.ops, time.Minute)
		assert.Equal(t, tc.want, result, "counter model after %v", tc.cause)

		h = newHistory()
		_ = h.record(0, &holdInput{quota: "q", kind: holdReserveKind, id: "h1", amount: 5, limit: 5}, failing(tc.cause))
		_ = h.record(0, &holdInput{quota: "q", kind: plainAddKind, amount: 1, limit: 5}, refusedAt(5))
		result, _ = porcupine.CheckOperationsVerbose(holdsModel.ToModel(), h.ops, time.Minute)
		assert.Equal(t, tc.want, result, "holds model after %v", tc.cause)
	}
}
