package andromeda_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A flash sale on a 3-master + 3-replica cluster while the master owning the hot key is
// SIGKILLed (then brought back, as a replica), and later frozen with SIGSTOP for 4 s (a
// replica is promoted meanwhile; the frozen master then answers the requests queued to
// it before it learns it was replaced). With WaitForReplicas(1, 100ms) no acknowledged
// add is lost and the sale never passes its limit; without it, what was lost is printed.
func TestClusterFailover(t *testing.T) {
	requireFailoverRun(t)
	for _, durable := range []bool{false, true} {
		t.Run(durabilityName(durable), func(t *testing.T) { clusterFailoverRun(t, durable) })
	}
}

func clusterFailoverRun(t *testing.T, durable bool) {
	c, err := redistest.StartClusterWith(redistest.ClusterOptions{Masters: 3, ReplicasPerMaster: 1, NodeTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), PoolSize: 32, DialTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	hot := keyOf("hot")
	slot, err := c.SlotOf(hot)
	require.NoError(t, err)
	require.NoError(t, client.Set(ctx, hot, 0, 0).Err())
	require.NoError(t, c.WaitHealthy(20*time.Second))

	s := startSale(t, saleCache(client, durable), "hot", 16)
	healthy := s.newPhase("healthy")
	time.Sleep(1500 * time.Millisecond)
	rate := float64(healthy.acked.Load()) / 1.5

	// SIGKILL the hot key's master; bring it back once its replica took over.
	killed := s.newPhase("sigkill")
	master, err := c.MasterOf(slot)
	require.NoError(t, err)
	start := time.Now()
	master.Kill()
	promoted, err := c.WaitPromoted(slot, master, 20*time.Second)
	require.NoError(t, err)
	tookKill := time.Since(start)
	require.NoError(t, master.RestartWith())
	require.NoError(t, c.WaitHealthy(20*time.Second))
	time.Sleep(500 * time.Millisecond)
	t.Logf("SIGKILL of %s: %s promoted after %v; during it: %v", master.Addr, promoted.Addr, tookKill.Round(time.Millisecond), killed)

	// SIGSTOP the new master for 4 s, then SIGCONT.
	stopped := s.newPhase("sigstop")
	frozen, freezeStart := promoted, time.Now()
	require.NoError(t, frozen.Pause())
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = frozen.Resume()
		}
	})
	promoted, err = c.WaitPromoted(slot, frozen, 20*time.Second)
	require.NoError(t, err)
	tookStop := time.Since(freezeStart)
	time.Sleep(time.Until(freezeStart.Add(4 * time.Second)))
	require.NoError(t, frozen.Resume())
	resumed = true
	require.NoError(t, c.WaitHealthy(20*time.Second))
	time.Sleep(500 * time.Millisecond)
	t.Logf("SIGSTOP of %s for 4 s: %s promoted after %v; during it: %v", frozen.Addr, promoted.Addr, tookStop.Round(time.Millisecond), stopped)

	closing := s.newPhase("closing")
	limit := s.closeSale(300)
	s.waitSoldOut(15 * time.Second)
	s.stop()
	t.Logf("closing at limit %d: %v", limit, closing)

	usage, err := client.Get(ctx, hot).Int64()
	require.NoError(t, err)
	lost := s.lostAcked(t, client)
	sold := s.total.acked.Load()
	t.Logf("cluster %s: %v; usage %d, limit %d, sold %d (oversold %d); acknowledged adds lost: %d (by phase %v); healthy throughput %.0f adds/s%s",
		durabilityName(durable), &s.total, usage, limit, sold, max(0, sold-limit), sum(lost), lost, rate, s.otherErrors())
	assert.LessOrEqual(t, usage, limit)
	assert.LessOrEqual(t, usage, sold+s.total.unknown.Load()+s.total.other.Load(), "no add counted twice")
	assert.Zero(t, s.appliedNotRun(t, client), "adds reported not run (ErrRedisUnavailable) that were applied")
	if durable {
		assert.Zero(t, sum(lost), "acknowledged adds lost")
		assert.LessOrEqual(t, sold, limit, "sold past the limit")
	}
}
