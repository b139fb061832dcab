package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The sequential model of a quota with holds: usage counts committed usage plus active
// holds. reserve(id, n) holds n if it fits, else is refused and remembered as refused (a
// repeat of an active hold changes nothing; a closed or refused one is refused); commit(id) keeps an active hold (again: nothing; cancelled or
// unknown: refused); cancel(id) gives an active hold back, never taking usage below zero
// (committed: refused; anything else: nothing). Plain adds and reduces share the usage.
// A hold reserved with holdFor > 0 expires: its amount goes back (never below zero) and
// it is closed as "expired", at a moment the model does not know exactly, only within a
// window (see expiry); so before each operation, the holds whose window it overlaps may
// have expired or not, and those whose window it follows have.

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
	// holdFor, for a reserve, is how long the hold lasts; 0: it never expires here.
	holdFor time.Duration
	// called and returned bound when the call ran on the server (history time, ns).
	called, returned int64
	// ends, for a reserve, is when the server says the hold ends (history time, ns),
	// read from its record after the run; 0 when unknown.
	ends int64
}

// expiry is when a hold may end, in history time (ns): not before earliest, and surely
// by latest.
type expiry struct{ earliest, latest int64 }

// clockSlack covers the server's millisecond clock (TIME is floored to the ms) and the
// rounding of a hold's end up to its bucket.
const clockSlack = 3 * time.Millisecond

// expiryOf is when a hold reserved by in ends: when its record says, or else HoldFor
// after the server ran the reserve, rounded up by at most HoldFor/64.
func expiryOf(in *holdInput) expiry {
	if in.ends != 0 {
		return expiry{earliest: in.ends - int64(clockSlack), latest: in.ends + int64(time.Millisecond+clockSlack)}
	}
	width := (in.holdFor + 63) / 64
	return expiry{earliest: in.called + int64(in.holdFor-clockSlack), latest: in.returned + int64(in.holdFor+width+clockSlack)}
}

type holdState struct {
	usage  int64
	active map[string]int64  // hold ID to amount; never changed in place
	closed map[string]string // hold ID to "committed", "cancelled", "expired" or "refused"; never changed in place
	ends   map[string]expiry // when each expiring hold ends; never changed in place
}

// change returns a copy of s with usage, and id moved to active (amount > 0) or closed.
func (s holdState) change(usage int64, id string, amount int64, closed string) holdState {
	next := holdState{usage: usage, active: map[string]int64{}, closed: map[string]string{}, ends: s.ends}
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

// expire returns st with the holds ids expired: each gives its amount back, never taking
// usage below zero.
func (s holdState) expire(ids []string) holdState {
	for _, id := range ids {
		s = s.change(s.usage-min(s.active[id], s.usage), id, 0, "expired")
	}
	return s
}

// holdStepExpiring returns the states in lets holds expire before running: every
// combination of the holds that may have expired by then.
func holdStepExpiring(st holdState, in *holdInput, out opOutput) []interface{} {
	var must, may []string
	for id := range st.active {
		e, expires := st.ends[id]
		switch {
		case !expires:
		case e.latest < in.called:
			must = append(must, id)
		case e.earliest <= in.returned:
			may = append(may, id)
		}
	}
	sort.Strings(must)
	sort.Strings(may)
	st = st.expire(must)
	var next []interface{}
	for subset := 0; subset < 1<<len(may); subset++ {
		var ids []string
		for i, id := range may {
			if subset&(1<<i) != 0 {
				ids = append(ids, id)
			}
		}
		next = append(next, holdStep(st.expire(ids), in, out)...)
	}
	return next
}

// holdStep returns the states one operation can lead to from st, given what it returned.
func holdStep(st holdState, in *holdInput, out opOutput) []interface{} {
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
			// A refusal is recorded: a repeat of the reserve replays it.
			refusal := st.change(st.usage, in.id, 0, "refused")
			if out.outcome == unknown {
				return []interface{}{st, refusal}
			}
			return expect(refusal, out, refused, st.usage)
		}
		done, doneUsage = st.change(st.usage+in.amount, in.id, in.amount, ""), st.usage+in.amount
		if in.holdFor > 0 {
			done.ends = map[string]expiry{in.id: expiryOf(in)}
			for k, v := range st.ends {
				done.ends[k] = v
			}
		}
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
			quota := op.Input.(*holdInput).quota
			byQuota[quota] = append(byQuota[quota], op)
		}
		var partitions [][]porcupine.Operation
		for _, p := range byQuota {
			partitions = append(partitions, p)
		}
		return partitions
	},
	Init: func() []interface{} {
		return []interface{}{holdState{active: map[string]int64{}, closed: map[string]string{}, ends: map[string]expiry{}}}
	},
	Step: func(state, input, output interface{}) []interface{} {
		return holdStepExpiring(state.(holdState), input.(*holdInput), output.(opOutput))
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
		checkHoldsWorkload(t, b, time.Hour, 0, []string{"h1", "h2"})
	})
}

// The same with holds that expire during the run, many of them before their commit or
// cancel comes: expiry is released by whichever call comes next, at the moment the model
// expects.
func TestHoldsLinearizableWithExpiry(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		// Four quotas, not two: a hold that may have expired during a call doubles the
		// states the checker follows, so smaller partitions keep it well within its time.
		checkHoldsWorkload(t, b, 60*time.Millisecond, 2*time.Millisecond, []string{"h1", "h2", "h3", "h4"})
	})
}

// checkHoldsWorkload runs 8 clients of 250 random hold and plain operations on quotas,
// with holds that last holdFor and a pause between a client's calls, and checks the
// history against holdsModel.
func checkHoldsWorkload(t *testing.T, b backend, holdFor, pause time.Duration, quotas []string) {
	const limit = 15
	db := newQuotaDB()
	for _, q := range quotas {
		db.put(q, limit, 0)
		b.set(t, keyOf(q), 0)
	}
	holds := newHolds(b, db, holdFor)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	h := newHistory()
	var expired atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(client int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(time.Now().UnixNano() + int64(client)))
			var open, closed []holdInput
			for i := 0; i < 250; i++ {
				time.Sleep(time.Duration(rng.Int63n(int64(pause) + 1)))
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
					in.kind, in.id, in.holdFor, u = holdReserveKind, fmt.Sprintf("c%d-%d", client, i), holdFor, holds.Reserve
					open = append(open, in)
				}
				op := in // each operation its own times
				r := &andromeda.QuotaUsageRequest{QuotaID: op.quota, Usage: op.amount, IdempotencyKey: op.id}
				err := h.record(client, &op, func() (int64, error) {
					op.called = h.now()
					defer func() { op.returned = h.now() }()
					return u.Do(context.Background(), r)
				})
				if errors.Is(err, andromeda.ErrHoldExpired) {
					expired.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	require.Zero(t, h.unknown.Load())
	readHoldEnds(t, b, h)
	h.checkAgainst(t, holdsModel)
	if holdFor < time.Second {
		require.Positive(t, expired.Load(), "some holds expired before their commit")
	}
	t.Logf("%d operations checked: %d applied, %d refused, %d found their hold expired",
		len(h.ops), h.applied.Load(), h.refused.Load(), expired.Load())
}

// readHoldEnds sets the end of every reserve in h from its hold's record, in history time:
// the model then knows when each hold expired within a few milliseconds, instead of
// within its reserve's call plus a bucket's width, which keeps its choices few.
func readHoldEnds(t *testing.T, b backend, h *history) {
	t.Helper()
	ctx := context.Background()
	ends := map[string]int64{}
	for _, op := range h.ops {
		in := op.Input.(*holdInput)
		if in.kind != holdReserveKind {
			continue
		}
		key := in.quota + "/" + in.id
		if _, ok := ends[key]; !ok {
			_, record := andromeda.HoldKeys(keyOf(in.quota), in.id)
			ms, err := b.client.HGet(ctx, record, "ends").Int64()
			if errors.Is(err, redis.Nil) {
				ms = 0 // never held: refused
			} else {
				require.NoError(t, err)
			}
			ends[key] = ms
		}
		if ms := ends[key]; ms != 0 {
			in.ends = ms*int64(time.Millisecond) - h.start.UnixNano()
		}
	}
}
