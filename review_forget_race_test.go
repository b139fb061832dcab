package andromeda_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ramadani/andromeda"
)

// changeLedger adds up, from the Events, what the acknowledged changes did to each usage
// key: a replayed Do (Event.Replayed) changed nothing.
type changeLedger struct {
	mu  sync.Mutex
	net map[string]int64
}

func (l *changeLedger) add(key string, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.net[key] += n
}

func (l *changeLedger) OnSuccess(context.Context, *andromeda.QuotaUsageRequest, int64) {}
func (l *changeLedger) OnError(context.Context, *andromeda.QuotaUsageRequest, error)   {}
func (l *changeLedger) OnDone(_ context.Context, ev andromeda.Event) {
	if ev.Err != nil || ev.Replayed {
		return
	}
	switch ev.Op {
	case andromeda.OpAdd, andromeda.OpReserve:
		l.add(ev.Key, ev.Amount)
	case andromeda.OpReduce, andromeda.OpCancel:
		l.add(ev.Key, -ev.Amount)
	}
}

// ForgetUsage racing with keyed adds, plain reduces, reserves, commits and cancels: every
// acknowledged change is in exactly one forgotten usage or in the usage left, and a cancel
// of a hold forgotten with its usage gives nothing back (its Event says replayed).
//
// Adds and reduces go to one quota, holds to another, both forgotten again and again: a
// plain reduce on a quota with holds may take units the holds counted (after a forget, the
// reloaded usage has no claim behind the reduce), and a cancel then gives back only what is
// left, never going below zero, which no ledger of requested amounts can follow.
func TestReviewForgetRacingEveryChange(t *testing.T) {
	eachRealBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		key, heldKey := "forget:{race}:usage", "forget:{race}:held"
		ledger := &changeLedger{net: map[string]int64{}}
		zero := andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 0, nil })
		quota := andromeda.Quota{GetQuotaLimit: constLimit(1 << 40), GetQuotaUsage: zero, GetQuotaUsageKey: constKey(heldKey)}
		add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: quota.GetQuotaLimit,
			GetQuotaUsage: zero, GetQuotaUsageKey: constKey(key), Option: andromeda.AddUsageOption{Listener: ledger}})
		reduce := andromeda.ReduceQuotaUsage(andromeda.ReduceQuotaUsageConfig{Cache: b.cache, GetQuotaUsage: zero,
			GetQuotaUsageKey: constKey(key), Option: andromeda.ReduceUsageOption{Listener: ledger}})
		holds := andromeda.NewQuotaHolds(andromeda.QuotaHoldsConfig{Cache: b.cache, Quota: quota, HoldFor: time.Hour, Listener: ledger})

		forgotten := map[string]*atomic.Int64{key: {}, heldKey: {}}
		stop := make(chan struct{})
		var workers, operator sync.WaitGroup
		operator.Add(1)
		go func() { // the operator
			defer operator.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(3 * time.Millisecond):
				}
				for k, sum := range forgotten {
					usage, _, err := andromeda.ForgetUsage(ctx, b.cache, k)
					if !assert.NoError(t, err) {
						return
					}
					sum.Add(usage)
				}
			}
		}()
		var expired atomic.Int64
		for w := range 6 {
			workers.Add(1)
			go func() {
				defer workers.Done()
				for i := range 60 {
					id := fmt.Sprintf("w%d-%d", w, i)
					var err error
					switch i % 4 {
					case 0:
						_, err = add.Do(ctx, keyed(3, id))
					case 1:
						_, err = reduce.Do(ctx, req("q", 1))
						if err != nil && assert.ErrorIs(t, err, andromeda.ErrInvalidMinQuotaUsage) {
							err = nil // reloaded at zero
						}
					case 2, 3:
						if _, err = holds.Reserve.Do(ctx, keyed(2, id)); err != nil {
							break
						}
						step := holds.Commit
						if i%4 == 3 {
							step = holds.Cancel
						}
						_, err = step.Do(ctx, keyed(2, id)) // the amount, for the ledger
						if err != nil && assert.ErrorIs(t, err, andromeda.ErrHoldExpired) {
							expired.Add(1) // forgotten with its usage
							err = nil
						}
					}
					assert.NoError(t, err)
				}
			}()
		}
		workers.Wait()
		close(stop)
		operator.Wait()
		for _, k := range []string{key, heldKey} {
			left := max(b.get(t, k), 0)
			t.Logf("%s: forgotten %d, left %d, acknowledged net %d, commits/cancels of forgotten holds %d",
				k, forgotten[k].Load(), left, ledger.net[k], expired.Load())
			assert.Equal(t, ledger.net[k], forgotten[k].Load()+left,
				"%s: every acknowledged change is in one forgotten usage or in the one left", k)
		}
	})
}
