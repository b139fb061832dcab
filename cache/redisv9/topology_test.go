package redisv9_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A key's slot moves to another master and the old master dies, while a cluster client
// (default options) still maps the slot to it. The add is refused at the dial, so it did
// not run; the cache makes the client reload its slot map and sends the add again, to the
// new owner, instead of dialling the dead master until the client refreshes by itself.
func TestClusterClientLearnsNewOwnerAfterDeadMaster(t *testing.T) {
	redistest.Require(t)
	ctx := context.Background()
	c, err := redistest.StartCluster(3)
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { client.Close() })
	cache := storeOver(redisv9.New(client))
	const key = "moving-key"
	args := storetypes.AddUsageArgs{Key: key, Amount: 1, Limit: 100, CreateMissing: true}
	_, err = cache.AddUsage(ctx, args) // the client's slot map is warm
	require.NoError(t, err)

	// Move the slot from its master to another, with the key, behind the client's back.
	slot, err := client.ClusterKeySlot(ctx, key).Result()
	require.NoError(t, err)
	source, err := client.MasterForKey(ctx, key)
	require.NoError(t, err)
	var sourceNode *redistest.Server
	var others []*redis.Client
	for _, n := range c.Nodes {
		if n.Addr == source.Options().Addr {
			sourceNode = n
			continue
		}
		other := redis.NewClient(&redis.Options{Addr: n.Addr})
		t.Cleanup(func() { other.Close() })
		others = append(others, other)
	}
	target := others[0]
	sourceID, err := source.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	targetID, err := target.ClusterMyID(ctx).Result()
	require.NoError(t, err)
	require.NoError(t, target.Do(ctx, "cluster", "setslot", slot, "importing", sourceID).Err())
	require.NoError(t, source.Do(ctx, "cluster", "setslot", slot, "migrating", targetID).Err())
	host, port, _ := strings.Cut(target.Options().Addr, ":")
	require.NoError(t, source.Migrate(ctx, host, port, key, 0, 5*time.Second).Err())
	for _, node := range append([]*redis.Client{source}, others...) {
		require.NoError(t, node.Do(ctx, "cluster", "setslot", slot, "node", targetID).Err())
	}
	sourceNode.Stop()

	// The cluster notices the dead master only after cluster-node-timeout (5s): this
	// runs well before, so the slot map the client reloads is the live nodes' one.
	start := time.Now()
	res, err := cache.AddUsage(ctx, args)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Usage)
	assert.Less(t, time.Since(start), 3*time.Second)
	value, err := target.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "2", value, "applied once, on the new owner")
}
