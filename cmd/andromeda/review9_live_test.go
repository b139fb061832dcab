package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The operator command used on a live sale: set-limit lowers and then raises the limit
// kept in Redis while 16 goroutines claim with keys, and inspect runs all along. Every
// claim admitted after a set-limit returned is within that limit, the sale ends exactly at
// the last limit set, and every inspect shows one consistent moment (remaining = limit -
// usage).
func TestReview9SetLimitAndInspectDuringALiveSale(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		const key = "{live-sale}:usage"
		add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
			Cache: tg.cache,
			GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				return 1000, nil // the database's limit, loaded once into Redis
			}),
			GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) {
				return 0, nil
			}),
			GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) {
				return key, nil
			}),
			Option: andromeda.AddUsageOption{CacheLimit: true},
		})
		var admitted, refused, failed atomic.Int64
		var seq atomic.Int64
		claim := func() error {
			n := seq.Add(1)
			_, err := add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "s", Usage: 1, IdempotencyKey: fmt.Sprint("c", n)})
			switch {
			case err == nil:
				admitted.Add(1)
			case errors.Is(err, andromeda.ErrQuotaLimitExceeded):
				refused.Add(1)
			default:
				failed.Add(1)
				t.Errorf("claim %d: %v", n, err)
			}
			return err
		}
		phase := func(limit int64, until func() bool) {
			var wg sync.WaitGroup
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !until() {
						claim()
					}
				}()
			}
			wg.Wait()
		}

		stopInspect := make(chan struct{})
		var inspects, badInspects atomic.Int64
		var inspectWG sync.WaitGroup
		inspectWG.Add(1)
		usageRe := regexp.MustCompile(`(?m)^usage\s+(\d+)`)
		limitRe := regexp.MustCompile(`(?m)^limit\s+(\d+)`)
		remainingRe := regexp.MustCompile(`(?m)^remaining\s+(\d+)`)
		go func() {
			defer inspectWG.Done()
			for {
				select {
				case <-stopInspect:
					return
				default:
				}
				r := tg.cli("inspect", key)
				inspects.Add(1)
				if r.code != 0 {
					badInspects.Add(1)
					t.Errorf("inspect exited %d: %s", r.code, r.stderr)
					continue
				}
				u, l, rem := usageRe.FindStringSubmatch(r.stdout), limitRe.FindStringSubmatch(r.stdout), remainingRe.FindStringSubmatch(r.stdout)
				if u == nil || l == nil || rem == nil {
					continue // before the first claim: no usage or limit yet
				}
				usage, _ := strconv.ParseInt(u[1], 10, 64)
				limit, _ := strconv.ParseInt(l[1], 10, 64)
				remaining, _ := strconv.ParseInt(rem[1], 10, 64)
				want := limit - usage
				if want < 0 {
					want = 0
				}
				if remaining != want {
					badInspects.Add(1)
					t.Errorf("inspect: usage %d, limit %d, remaining %d:\n%s", usage, limit, remaining, r.stdout)
				}
			}
		}()

		// Phase 1: sell 200 of 1000, then lower the limit to 300 mid-sale.
		phase(1000, func() bool { return admitted.Load() >= 200 })
		r := tg.cli("set-limit", key, "300")
		require.Equal(t, 0, r.code, r.stderr)
		before := admitted.Load()
		// Phase 2: sell until sold out many times over.
		phase(300, func() bool { return refused.Load() >= 200 })
		assert.Equal(t, int64(300), admitted.Load(), "the sale ends exactly at the lowered limit (admitted before it: %d)", before)
		got, err := tg.client.Get(context.Background(), key).Int64()
		require.NoError(t, err)
		assert.Equal(t, int64(300), got, "usage")

		// Phase 3: lower below the usage (nothing admitted), then raise to 450.
		r = tg.cli("set-limit", key, "250")
		require.Equal(t, 0, r.code, r.stderr)
		refusedBefore := refused.Load()
		phase(250, func() bool { return refused.Load() >= refusedBefore+100 })
		assert.Equal(t, int64(300), admitted.Load(), "a limit below the usage admits nothing")
		got, err = tg.client.Get(context.Background(), key).Int64()
		require.NoError(t, err)
		assert.Equal(t, int64(300), got, "a limit below the usage leaves it as it is")

		r = tg.cli("set-limit", key, "450")
		require.Equal(t, 0, r.code, r.stderr)
		refusedBefore = refused.Load()
		phase(450, func() bool { return refused.Load() >= refusedBefore+200 })
		close(stopInspect)
		inspectWG.Wait()
		assert.Equal(t, int64(450), admitted.Load(), "the sale ends exactly at the raised limit")
		got, err = tg.client.Get(context.Background(), key).Int64()
		require.NoError(t, err)
		assert.Equal(t, int64(450), got, "usage")
		assert.Zero(t, failed.Load())
		assert.Zero(t, badInspects.Load())
		t.Logf("admitted %d, refused %d, %d inspects", admitted.Load(), refused.Load(), inspects.Load())
	})
}

// release-expired and inspect run over and over while 16 goroutines reserve holds that
// expire in 100ms, committing half, cancelling a quarter and abandoning the rest. Once
// every hold has ended and been released, the usage is exactly the committed units, and
// the sale never admitted more than the limit.
func TestReview9ReleaseExpiredDuringALiveHoldsSale(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		const key = "{live-holds}:usage"
		const limit = 100
		holds := tg.holds(key, 100*time.Millisecond)
		var committed, reserved, refused, expiredCommits, seq atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := seq.Add(1)
					order := &andromeda.QuotaUsageRequest{QuotaID: key, Usage: 1, IdempotencyKey: fmt.Sprint("o", n)}
					_, err := holds.Reserve.Do(context.Background(), order)
					if errors.Is(err, andromeda.ErrQuotaLimitExceeded) {
						refused.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if err != nil {
						t.Errorf("reserve %d: %v", n, err)
						continue
					}
					reserved.Add(1)
					switch n % 4 {
					case 0, 1:
						_, err = holds.Commit.Do(context.Background(), order)
						switch {
						case err == nil:
							committed.Add(1)
						case errors.Is(err, andromeda.ErrHoldExpired):
							expiredCommits.Add(1)
						default:
							t.Errorf("commit %d: %v", n, err)
						}
					case 2:
						if _, err = holds.Cancel.Do(context.Background(), order); err != nil && !errors.Is(err, andromeda.ErrHoldExpired) {
							t.Errorf("cancel %d: %v", n, err)
						}
					}
				}
			}()
		}
		var cli sync.WaitGroup
		cli.Add(1)
		var runs atomic.Int64
		go func() {
			defer cli.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := tg.cli("release-expired", key); r.code != 0 {
					t.Errorf("release-expired exited %d: %s", r.code, r.stderr)
				}
				if r := tg.cli("inspect", key); r.code != 0 {
					t.Errorf("inspect exited %d: %s", r.code, r.stderr)
				}
				runs.Add(1)
			}
		}()
		deadline := time.Now().Add(3 * time.Second)
		for committed.Load() < limit && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		cli.Wait()
		time.Sleep(300 * time.Millisecond) // every open hold ends
		r := tg.cli("release-expired", key)
		require.Equal(t, 0, r.code, r.stderr)
		got, err := tg.client.Get(context.Background(), key).Int64()
		require.NoError(t, err)
		t.Logf("reserved %d, committed %d, commits after expiry %d, refused %d; %d release-expired runs", reserved.Load(), committed.Load(), expiredCommits.Load(), refused.Load(), runs.Load())
		assert.LessOrEqual(t, committed.Load(), int64(limit), "never oversold")
		assert.Equal(t, committed.Load(), got, "usage is exactly the committed units once every hold ended")
		assert.Equal(t, int64(limit), committed.Load(), "the whole limit was sold within 3 s")
	})
}
