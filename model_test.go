package andromeda_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/require"
)

// The sequential model the histories are checked against: a bounded counter per quota.
// add n succeeds iff usage+n <= limit; reduce n succeeds iff usage-n >= 0; otherwise
// nothing changes. A call whose outcome is unknown (an error wrapping ErrUnknownOutcome:
// the request was sent and no reply came; or any error the checker cannot classify) may
// or may not have happened, at any time after it began, as in etcd's robustness tests. A
// call that failed with ErrRedisUnavailable was not run: it changed nothing.
//
// With an idempotency key K (see QuotaUsageRequest.IdempotencyKey): an add K (or a reduce K
// of its own) whose record is of another amount is invalid; one whose record says applied or refused replays that
// outcome; with no record, or one taken back, it is a fresh attempt, recorded. A reduce K with an add record is about that add: of another
// amount it is invalid; an applied add is taken back (if usage allows) and its record
// says so; after a refused or taken-back add it changes nothing and succeeds with the
// usage as it is. A reduce K with no add record is a reduce of its own, recorded and
// replayed as an add's.

type opKind int

const (
	opAddKind opKind = iota
	opReduceKind
)

type opInput struct {
	quota  string
	kind   opKind
	amount int64
	limit  int64
	// idemKey, when set, is the request's IdempotencyKey.
	idemKey string
}

type outcome int

const (
	applied outcome = iota // Do succeeded; usage is the usage after it
	refused                // limit exceeded or below zero; usage is the usage found
	unknown                // any other error: it may or may not have been applied
	invalid                // ErrInvalidRequest: nothing changed
	notRun                 // ErrRedisUnavailable: Redis did not run it, nothing changed
)

type opOutput struct {
	outcome outcome
	usage   int64
}

// idemRecord is what a quota keeps for one idempotency key and kind of change.
type idemRecord struct {
	out       opOutput // the outcome a repeat replays
	amount    int64    // the add's amount
	takenBack bool     // an applied add that a reduce with its key took back
}

// counterState is a quota's usage and its idempotency records.
type counterState struct {
	usage    int64
	recorded map[string]idemRecord // by kind and key; never changed in place
}

func (s counterState) with(usage int64, record string, rec idemRecord) counterState {
	next := counterState{usage: usage, recorded: make(map[string]idemRecord, len(s.recorded)+1)}
	for k, v := range s.recorded {
		next.recorded[k] = v
	}
	if record != "" {
		next.recorded[record] = rec
	}
	return next
}

// counterStep is the model's transition: the states st may become when in returns out.
func counterStep(st counterState, in opInput, out opOutput) []any {
	stay := []any{st}
	if out.outcome == notRun {
		return stay
	}
	if in.kind == opReduceKind && in.idemKey != "" {
		if add, ok := st.recorded[fmt.Sprint(opAddKind, ":", in.idemKey)]; ok {
			return reduceAdd(st, in, out, add)
		}
	}
	record := ""
	if in.idemKey != "" {
		record = fmt.Sprint(in.kind, ":", in.idemKey)
		if first, ok := st.recorded[record]; ok && first.amount != in.amount {
			// One key names one request: an add, or a reduce of its own, of another
			// amount is invalid, whatever became of the first.
			if out.outcome == invalid || out.outcome == unknown {
				return stay
			}
			return nil
		}
		if first, ok := st.recorded[record]; ok && !first.takenBack { // a repeat: the first outcome, no change
			if out.outcome == unknown || out == first.out {
				return stay
			}
			return nil
		}
	}
	next, fits := st.usage+in.amount, st.usage+in.amount <= in.limit
	if in.kind == opReduceKind {
		next, fits = st.usage-in.amount, st.usage-in.amount >= 0
	}
	appliedOut, refusedOut := opOutput{outcome: applied, usage: next}, opOutput{outcome: refused, usage: st.usage}
	appliedState := st.with(next, record, idemRecord{out: appliedOut, amount: in.amount})
	refusedState := st.with(st.usage, record, idemRecord{out: refusedOut, amount: in.amount})
	switch {
	case out.outcome == applied && fits && out == appliedOut:
		return []any{appliedState}
	case out.outcome == refused && !fits && out == refusedOut:
		return []any{refusedState}
	case out.outcome == unknown && fits:
		return []any{st, appliedState}
	case out.outcome == unknown && record != "":
		return []any{st, refusedState}
	case out.outcome == unknown:
		return stay
	}
	return nil
}

// reduceAdd is a reduce with the key of a recorded add.
func reduceAdd(st counterState, in opInput, out opOutput, add idemRecord) []any {
	stay := []any{st}
	switch {
	case in.amount != add.amount:
		if out.outcome == invalid || out.outcome == unknown {
			return stay
		}
		return nil
	case add.takenBack || add.out.outcome != applied: // nothing to take back
		if out.outcome == unknown || out == (opOutput{outcome: applied, usage: st.usage}) {
			return stay
		}
		return nil
	}
	next := st.usage - in.amount
	if next < 0 {
		if out.outcome == unknown || out == (opOutput{outcome: refused, usage: st.usage}) {
			return stay
		}
		return nil
	}
	add.takenBack = true
	taken := st.with(next, fmt.Sprint(opAddKind, ":", in.idemKey), add)
	switch {
	case out == opOutput{outcome: applied, usage: next}:
		return []any{taken}
	case out.outcome == unknown:
		return []any{st, taken}
	}
	return nil
}

var counterModel = porcupine.NondeterministicModel{
	Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
		byQuota := map[string][]porcupine.Operation{}
		for _, op := range ops {
			quota := op.Input.(opInput).quota
			byQuota[quota] = append(byQuota[quota], op)
		}
		var partitions [][]porcupine.Operation
		for _, p := range byQuota {
			partitions = append(partitions, p)
		}
		return partitions
	},
	Init: func() []any { return []any{counterState{}} },
	Step: func(state, input, output any) []any {
		return counterStep(state.(counterState), input.(opInput), output.(opOutput))
	},
	Equal: func(a, b any) bool {
		x, y := a.(counterState), b.(counterState)
		if x.usage != y.usage || len(x.recorded) != len(y.recorded) {
			return false
		}
		for k, v := range x.recorded {
			if w, ok := y.recorded[k]; !ok || w != v {
				return false
			}
		}
		return true
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(opInput), output.(opOutput)
		kind := map[opKind]string{opAddKind: "add", opReduceKind: "reduce"}[in.kind]
		result := map[outcome]string{applied: "ok", refused: "refused", unknown: "unknown", invalid: "invalid", notRun: "not run"}[out.outcome]
		return fmt.Sprintf("%s(%s, %d, %q) -> %s %d", kind, in.quota, in.amount, in.idemKey, result, out.usage)
	},
}

// history records operations from concurrent clients for the checker.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// counts by outcome
	applied, refused, unknown, invalid, notRun atomic.Int64
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// run performs one operation and records it.
func (h *history) run(ctx context.Context, client int, u andromeda.UpdateQuotaUsage, in opInput) error {
	return h.record(client, in, func() (int64, error) {
		return u.Do(ctx, &andromeda.QuotaUsageRequest{QuotaID: in.quota, Usage: in.amount, IdempotencyKey: in.idemKey})
	})
}

// definite are the errors after which nothing changed, for sure.
var definite = []error{andromeda.ErrQuotaLimitExceeded, andromeda.ErrInvalidMinQuotaUsage, andromeda.ErrHoldExpired,
	andromeda.ErrHoldNotFound, andromeda.ErrHoldCommitted, andromeda.ErrHoldCancelled}

// record performs call and records it as an operation with input.
func (h *history) record(client int, input interface{}, call func() (int64, error)) error {
	start := h.now()
	usage, err := call()
	ret := h.now()
	out := opOutput{outcome: applied, usage: usage}
	switch {
	case err == nil:
		h.applied.Add(1)
	case isAny(err, definite):
		var qerr *andromeda.QuotaError
		errors.As(err, &qerr)
		out = opOutput{outcome: refused, usage: qerr.Usage}
		h.refused.Add(1)
	case errors.Is(err, andromeda.ErrInvalidRequest):
		out = opOutput{outcome: invalid}
		h.invalid.Add(1)
	case errors.Is(err, andromeda.ErrUnknownOutcome):
		// Maybe applied, at any time after the call: leave it open to the end.
		out = opOutput{outcome: unknown}
		ret = math.MaxInt64
		h.unknown.Add(1)
	case errors.Is(err, andromeda.ErrRedisUnavailable):
		// Not run: nothing changed, and the call is over when it returns.
		out = opOutput{outcome: notRun}
		h.notRun.Add(1)
	default:
		// An error that says neither: treat it as maybe applied, as etcd's tests do.
		out = opOutput{outcome: unknown}
		ret = math.MaxInt64
		h.unknown.Add(1)
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: input, Call: start, Output: out, Return: ret})
	h.mu.Unlock()
	return err
}

func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// withKey counts the operations that carried an idempotency key.
func (h *history) withKey() int {
	n := 0
	for _, op := range h.ops {
		if op.Input.(opInput).idemKey != "" {
			n++
		}
	}
	return n
}

// check asserts the history is linearizable against the bounded counter.
func (h *history) check(t *testing.T) {
	t.Helper()
	h.checkAgainst(t, counterModel)
}

func (h *history) checkAgainst(t *testing.T, model porcupine.NondeterministicModel) {
	t.Helper()
	result, _ := porcupine.CheckOperationsVerbose(model.ToModel(), h.ops, time.Minute)
	require.Equal(t, porcupine.Ok, result, "history of %d operations is not linearizable", len(h.ops))
}

// workload is what each client of a robustness run does.
type workload struct {
	clients, opsPerClient int
	quotas                []string
	limit                 int64
	maxAmount             int64
	timeout               time.Duration // per call; 0: none
	pause                 time.Duration // between a client's calls, to spread a run over time
	idempotent            int           // percent of calls with an idempotency key, drawn from a small pool so that keys repeat
}

// drive runs w against add and reduce, recording into h. Each client gets its own
// rand.Rand, seeded from seed, so a run can be replayed.
func (w workload) drive(h *history, seed int64, add, reduce andromeda.UpdateQuotaUsage) {
	var wg sync.WaitGroup
	for c := 0; c < w.clients; c++ {
		wg.Add(1)
		go func(client int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(client)))
			for i := 0; i < w.opsPerClient; i++ {
				in := opInput{quota: w.quotas[rng.Intn(len(w.quotas))], amount: 1 + rng.Int63n(w.maxAmount), limit: w.limit}
				u := add
				if rng.Intn(10) < 4 {
					in.kind, u = opReduceKind, reduce
				}
				if rng.Intn(100) < w.idempotent {
					in.idemKey = fmt.Sprint("order-", rng.Intn(w.clients*10))
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if w.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, w.timeout)
				}
				_ = h.run(ctx, client, u, in)
				cancel()
				time.Sleep(w.pause)
			}
		}(c)
	}
	wg.Wait()
}
