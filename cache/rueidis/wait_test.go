package rueidis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/cachetest"
	cache "github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// primaryWithReplica starts a primary and a replica of it, and waits until the primary
// counts the replica for WAIT (online, after its first ACK).
func primaryWithReplica(t testing.TB) *redistest.Server {
	primary := redistest.Standalone(t, "--repl-diskless-sync-delay", "0") // full sync at once
	host, port, _ := strings.Cut(primary.Addr, ":")
	redistest.Standalone(t, "--replicaof", host, port)
	require.Eventually(t, func() bool {
		info, err := primary.Info(context.Background(), "replication")
		return err == nil && strings.Contains(info["slave0"], "state=online")
	}, 10*time.Second, 20*time.Millisecond, "replica online")
	return primary
}

// With a replica that keeps up, every change is confirmed: the whole conformance suite
// passes through the WAIT path.
func TestConformanceWaitForReplicas(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cachetest.Harness {
		primary := primaryWithReplica(t)
		client := newClient(t, rueidis.ClientOption{InitAddress: []string{primary.Addr}})
		h := harness(t, client, time.Sleep)
		h.Cache = cache.New(client, cache.WaitForReplicas(1, time.Second))
		return h
	})
}

// Without a replica (the Sentinel here watches a master that has none), WAIT falls
// short: the add was applied on the primary, and the caller hears that its outcome is
// unknown, not that it succeeded.
func TestWaitForReplicasShortfallIsUnknown(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		option func(t *testing.T) rueidis.ClientOption
	}{
		{"standalone", func(t *testing.T) rueidis.ClientOption {
			return rueidis.ClientOption{InitAddress: []string{redistest.Standalone(t).Addr}}
		}},
		{"cluster", func(t *testing.T) rueidis.ClientOption {
			return rueidis.ClientOption{InitAddress: cluster.Get(t).Addrs()}
		}},
		{"sentinel", func(t *testing.T) rueidis.ClientOption {
			return rueidis.ClientOption{InitAddress: []string{redistest.Sentinel(t)},
				Sentinel: rueidis.SentinelOption{MasterSet: redistest.SentinelMaster}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newClient(t, tc.option(t))
			c := storeOver(cache.New(client, cache.WaitForReplicas(1, 10*time.Millisecond)))
			for i := range 5 { // keys on several masters of the cluster
				key := fmt.Sprintf("wait-%d", i)
				_, err := c.AddUsage(ctx, storetypes.AddUsageArgs{Key: key, Amount: 2, Limit: 10, CreateMissing: true})
				require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
				assert.Contains(t, err.Error(), "0 of 1 replicas")
				usage, err := client.Do(ctx, client.B().Get().Key(key).Build()).AsInt64()
				require.NoError(t, err)
				assert.Equal(t, int64(2), usage, "applied on the primary")
			}
		})
	}
}

func TestWaitForReplicasRejectsBadArguments(t *testing.T) {
	assert.Panics(t, func() { cache.WaitForReplicas(0, time.Second) })
	assert.Panics(t, func() { cache.WaitForReplicas(1, 0) })
}

// Mid-migration, the master that owns a key's slot answers ASK for a key already moved:
// the WAIT path, on one master's dedicated connection, follows it there itself.
func TestWaitForReplicasFollowsAsk(t *testing.T) {
	redistest.Require(t)
	ctx := context.Background()
	c, err := redistest.StartCluster(3)
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	client := newClient(t, rueidis.ClientOption{InitAddress: c.Addrs()})
	const key = "ask-key"
	require.NoError(t, client.Do(ctx, client.B().Set().Key(key).Value("5").Build()).Error())
	// Mid-migration Redis runs a script with several keys only on a master that holds
	// all of them (else TRYAGAIN): the quota gets a hold, and all its keys move together.
	_, err = storeOver(cache.New(client)).ChangeHold(ctx, storetypes.HoldArgs{Op: storetypes.HoldReserve, Key: key, HoldID: "h",
		Amount: 1, Limit: 100, HoldFor: time.Hour, Retention: time.Hour})
	require.NoError(t, err)
	buckets, hold := andromeda.HoldKeys(key, "h")
	slot, err := c.SlotOf(key)
	require.NoError(t, err)
	source, err := c.MasterOf(slot)
	require.NoError(t, err)
	var target *redistest.Server
	for _, m := range c.Masters() {
		if m.Addr != source.Addr {
			target = m
			break
		}
	}
	sourceID, err := source.Cmd(ctx, "cluster", "myid")
	require.NoError(t, err)
	targetID, err := target.Cmd(ctx, "cluster", "myid")
	require.NoError(t, err)
	_, err = target.Cmd(ctx, "cluster", "setslot", slot, "importing", sourceID)
	require.NoError(t, err)
	_, err = source.Cmd(ctx, "cluster", "setslot", slot, "migrating", targetID)
	require.NoError(t, err)
	host, port, _ := strings.Cut(target.Addr, ":")
	_, err = source.Cmd(ctx, "migrate", host, port, "", 0, 5000, "keys", key, buckets, hold)
	require.NoError(t, err)

	_, err = storeOver(cache.New(client, cache.WaitForReplicas(1, 10*time.Millisecond))).
		AddUsage(ctx, storetypes.AddUsageArgs{Key: key, Amount: 1, Limit: 100})
	// This cluster has no replicas: the add ran on the target, and WAIT fell short.
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Contains(t, err.Error(), "0 of 1 replicas")
	node := client.Nodes()[target.Addr]
	require.NotNil(t, node)
	got := node.DoMulti(ctx, node.B().Asking().Build(), node.B().Get().Key(key).Build())
	value, err := got[1].ToString()
	require.NoError(t, err)
	assert.Equal(t, "7", value, "5, the hold of 1, and the add applied once, on the master the key moved to")
}
