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

// sentinelFailovers is how many times each Sentinel run kills its primary.
const sentinelFailovers = 3

// A flash sale through go-redis's failover client while Sentinel fails over three times,
// each after a SIGKILL of the primary. With WaitForReplicas(1, 100ms) no acknowledged
// add is lost and the sale never passes its limit; without it, what was lost is printed.
// Then the only replica is killed too, to show what sales do with none left.
func TestSentinelFailover(t *testing.T) {
	requireFailoverRun(t)
	for _, durable := range []bool{false, true} {
		t.Run(durabilityName(durable), func(t *testing.T) { sentinelFailoverRun(t, durable) })
	}
}

func durabilityName(durable bool) string {
	if durable {
		return "WaitForReplicas"
	}
	return "async"
}

func sentinelFailoverRun(t *testing.T, durable bool) {
	g, err := redistest.StartSentinelGroup(1, 3, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(g.Stop)
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: redistest.SentinelMaster, SentinelAddrs: g.SentinelAddrs(), PoolSize: 32,
		DialTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	require.NoError(t, client.Set(ctx, keyOf("hot"), 0, 0).Err())
	require.NoError(t, client.Do(ctx, "WAIT", 1, 2000).Err(), "the usage key reached the replica")

	s := startSale(t, saleCache(client, durable), "hot", 16)
	healthy := s.newPhase("healthy")
	time.Sleep(1500 * time.Millisecond)
	rate := float64(healthy.acked.Load()) / 1.5

	for i := 1; i <= sentinelFailovers; i++ {
		phase := s.newPhase(failoverPhase(i))
		took, err := g.KillPrimary(20 * time.Second)
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond) // sell on the new primary with its new replica
		t.Logf("failover %d: promoted %v after the SIGKILL; during it: %v", i, took.Round(time.Millisecond), phase)
	}

	// No replica left: every change is made on the primary alone.
	replicas, err := g.Replicas(ctx)
	require.NoError(t, err)
	alone := s.newPhase("no-replica")
	replicas[0].Kill()
	time.Sleep(2 * time.Second)
	s.newPhase("replica-back")
	require.NoError(t, g.RestartReplica(replicas[0], 20*time.Second))
	// Counted by when they began: the adds begun with no replica have ended by now.
	t.Logf("adds begun in 2 s with no replica left: %v", alone)
	if durable {
		assert.Zero(t, alone.acked.Load(), "with no replica to confirm, nothing is acknowledged")
		assert.Positive(t, alone.unknown.Load(), "and the adds say their outcome is unknown")
	}

	closing := s.newPhase("closing")
	limit := s.closeSale(300)
	s.waitSoldOut(15 * time.Second)
	s.stop()
	t.Logf("closing at limit %d: %v", limit, closing)

	usage, err := client.Get(ctx, keyOf("hot")).Int64()
	require.NoError(t, err)
	lost := s.lostAcked(t, client)
	sold := s.total.acked.Load()
	failovers, err := g.Failovers()
	require.NoError(t, err)
	if failovers > sentinelFailovers {
		t.Logf("a failover the test did not cause; the first sentinel's log:\n%s", g.Sentinels[0].Log())
	}
	assert.GreaterOrEqual(t, failovers, sentinelFailovers)
	t.Logf("%s: %d failovers (%d by SIGKILL); %v; usage %d, limit %d, sold %d (oversold %d); acknowledged adds lost: %d (by phase %v); healthy throughput %.0f adds/s%s",
		durabilityName(durable), failovers, sentinelFailovers, &s.total, usage, limit, sold, max(0, sold-limit), sum(lost), lost, rate, s.otherErrors())
	assert.LessOrEqual(t, usage, limit)
	assert.LessOrEqual(t, usage, sold+s.total.unknown.Load()+s.total.other.Load(), "no add counted twice")
	assert.Zero(t, s.appliedNotRun(t, client), "adds reported not run (ErrRedisUnavailable) that were applied")
	if durable {
		assert.Zero(t, sum(lost), "acknowledged adds lost")
		assert.LessOrEqual(t, sold, limit, "sold past the limit")
	}
}

func failoverPhase(i int) string { return "failover-" + string(rune('0'+i)) }

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
