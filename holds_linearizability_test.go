package andromeda_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/require"
)

// The sequential model of a quota with holds: usage counts committed usage plus active
// holds. reserve(id, n) holds n if it fits (a repeat of an active hold changes nothing; a
// closed one is refused); commit(id) keeps an active hold (again: nothing; cancelled or
// unknown: refused); cancel(id) gives an active hold back, never taking usage below zero
// (committed: refused; anything else: nothing). Plain adds and reduces share the usage.
// Holds do not expire here.

type holdKind int

const (
	holdReserveKind holdKind = iota
	holdCommitKind
	holdCancelKind
	plainAddKind
	plainReduceKind
)

type holdInput struct {
	quota  string
	kind   holdKind
	id     string
	amount int64
	limit  int64
}

type holdState struct {
	usage  int64
	active map[string]int64  // hold ID to amount; never changed in place
	closed map[string]string // hold ID to "committed" or "cancelled"; never changed in place
}

// change returns a copy of s with usage, and id moved to active (amount > 0) or closed.
func (s holdState) change(usage int64, id string, amount int64, closed string) holdState {
	next := holdState{usage: usage, active: map[string]int64{}, closed: map[string]string{}}
	for k, v := range s.active {
		next.active[k] = v
	}
	for k, v := range s.closed {
		next.closed[k] = v
	}
	if amount > 0 {
		next.active[id] = amount
	} else if closed != "" {
		delete(next.active, id)
		next.closed[id] = closed
	}
	return next
}

// holdStep returns the states one operation can lead to from st, given what it returned.
func holdStep(st holdState, in holdInput, out opOutput) []interface{} {
	if out.outcome == notRun {
		return []interface{}{st}
	}
	// done is the state if the operation took effect, with the output it must have given;
	// refusedOut is the output of a refusal.
	var done holdState
	var doneUsage int64
	changes := true
	switch amount, active := st.active[in.id]; {
	case in.kind == holdReserveKind && (active || st.closed[in.id] != ""):
		changes, doneUsage = false, st.usage
		if !active {
			return expect(st, out, refused, st.usage)
		}
	case in.kind == holdReserveKind:
		if st.usage+in.amount > in.limit {
			return expect(st, out, refused, st.usage)
		}
		done, doneUsage = st.change(st.usage+in.amount, in.id, in.amount, ""), st.usage+in.amount
	case in.kind == holdCommitKind && active:
		done, doneUsage = st.change(st.usage, in.id, 0, "committed"), st.usage
	case in.kind == holdCommitKind && st.closed[in.id] == "committed":
		changes, doneUsage = false, st.usage
	case in.kind == holdCommitKind:
		return expect(st, out, refused, st.usage)
	case in.kind == holdCancelKind && active:
		// A plain reduce may have given some of it back already: never below zero.
		given := min(amount, st.usage)
		done, doneUsage = st.change(st.usage-given, in.id, 0, "cancelled"), st.usage-given
	case in.kind == holdCancelKind && st.closed[in.id] == "committed":
		return expect(st, out, refused, st.usage)
	case in.kind == holdCancelKind:
		changes, doneUsage = false, st.usage
	case in.kind == plainAddKind:
		if st.usage+in.amount > in.limit {
			return expect(st, out, refused, st.usage)
		}
		done, doneUsage = st.change(st.usage+in.amount, "", 0, ""), st.usage+in.amount
	case in.kind == plainReduceKind:
		if st.usage-in.amount < 0 {
			return expect(st, out, refused, st.usage)
		}
		done, doneUsage = st.change(st.usage-in.amount, "", 0, ""), st.usage-in.amount
	}
	if !changes {
		return expect(st, out, applied, st.usage)
	}
	switch {
	case out.outcome == unknown:
		return []interface{}{st, done}
	case out.outcome == applied && out.usage == doneUsage:
		return []interface{}{done}
	}
	return nil
}

// expect allows st alone, if out is the given outcome (or unknown).
func expect(st holdState, out opOutput, want outcome, usage int64) []interface{} {
	if out.outcome == unknown || out == (opOutput{outcome: want, usage: usage}) {
		return []interface{}{st}
	}
	return nil
}

var holdsModel = porcupine.NondeterministicModel{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byQuota := map[string][]porcupine.Operation{}
		for _, op := range ops {
			quota := op.Input.(holdInput).quota
			byQuota[quota] = append(byQuota[quota], op)
		}
		var partitions [][]porcupine.Operation
		for _, p := range byQuota {
			partitions = append(partitions, p)
		}
		return partitions
	},
	Init: func() []interface{} {
		return []interface{}{holdState{active: map[string]int64{}, closed: map[string]string{}}}
	},
	Step: func(state, input, output interface{}) []interface{} {
		return holdStep(state.(holdState), input.(holdInput), output.(opOutput))
	},
	Equal: func(a, b interface{}) bool {
		x, y := a.(holdState), b.(holdState)
		return x.usage == y.usage && fmt.Sprint(x.active) == fmt.Sprint(y.active) && fmt.Sprint(x.closed) == fmt.Sprint(y.closed)
	},
}

// Concurrent reserves, commits, cancels (some repeated) and plain adds and reduces on
// real Redis are linearizable against the model above.
func TestHoldsLinearizable(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		const limit = 15
		quotas := []string{"h1", "h2"}
		db := newQuotaDB()
		for _, q := range quotas {
			db.put(q, limit, 0)
			b.set(t, keyOf(q), 0)
		}
		holds := newHolds(b, db, time.Hour)
		add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
		h := newHistory()
		var wg sync.WaitGroup
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func(client int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(client)))
				var open, closed []holdInput
				for i := 0; i < 250; i++ {
					in := holdInput{quota: quotas[rng.Intn(len(quotas))], amount: 1 + rng.Int63n(3), limit: limit}
					var u andromeda.UpdateQuotaUsage
					switch r := rng.Intn(100); {
					case r < 15:
						in.kind, u = plainAddKind, add
					case r < 30:
						in.kind, u = plainReduceKind, reduce
					case r < 40 && len(closed) > 0: // repeat something already done
						in = closed[rng.Intn(len(closed))]
						in.kind = holdKind(rng.Intn(3))
						u = []andromeda.UpdateQuotaUsage{holds.Reserve, holds.Commit, holds.Cancel}[in.kind]
					case r < 70 && len(open) > 0:
						j := rng.Intn(len(open))
						in = open[j]
						open = append(open[:j], open[j+1:]...)
						closed = append(closed, in)
						in.kind, u = holdCommitKind, holds.Commit
						if rng.Intn(10) < 4 {
							in.kind, u = holdCancelKind, holds.Cancel
						}
					default:
						in.kind, in.id, u = holdReserveKind, fmt.Sprintf("c%d-%d", client, i), holds.Reserve
						open = append(open, in)
					}
					r := &andromeda.QuotaUsageRequest{QuotaID: in.quota, Usage: in.amount, IdempotencyKey: in.id}
					_ = h.record(client, in, func() (int64, error) { return u.Do(context.Background(), r) })
				}
			}(c)
		}
		wg.Wait()
		require.Zero(t, h.unknown.Load())
		h.checkAgainst(t, holdsModel)
		t.Logf("%d operations checked: %d applied, %d refused", len(h.ops), h.applied.Load(), h.refused.Load())
	})
}
