package valkey_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	cache "github.com/ramadani/andromeda/cache/valkey"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"
)

// A key's slot moves to another master and the old master dies, while the client still
// maps the slot to it. Unlike go-redis, which checks a pooled connection before using it,
// valkey-go keeps its connection to the dead master open and writes the next add on it
// before it sees it closed: that add's outcome is unknown to the client (it did not run:
// the master was dead). From then on the dial is refused, which the cache retries for about
// a third of a second while valkey-go reloads its slot map; valkey-go starts that reload after a
// random delay of up to a second (for fewer than 100 nodes), so adds may fail closed with
// ErrRedisUnavailable until it is done. Then they land on the new owner, each exactly once.
func TestClusterClientLearnsNewOwnerAfterDeadMaster(t *testing.T) {
	redistest.Require(t)
	ctx := context.Background()
	c, err := redistest.StartCluster(3)
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	client := newClient(t, valkey.ClientOption{InitAddress: c.Addrs()})
	add := storeOver(cache.New(client))
	const key = "moving-key"
	args := storetypes.AddUsageArgs{Key: key, Amount: 1, Limit: 100, CreateMissing: true}
	_, err = add.AddUsage(ctx, args) // the client's slot map is warm
	require.NoError(t, err)

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
	require.NoError(t, c.MigrateSlot(slot, source, target, 100, 0))
	source.Stop()

	// The cluster notices the dead master only after cluster-node-timeout (5s): this runs
	// well before, so the slot map the client reloads is the live nodes' one.
	start := time.Now()
	applied := int64(1)
	for first := true; ; first = false {
		res, err := add.AddUsage(ctx, args)
		if err == nil {
			applied++
			assert.Equal(t, applied, res.Usage)
			break
		}
		if first && errors.Is(err, andromeda.ErrUnknownOutcome) {
			continue // written on the dead master's connection
		}
		require.ErrorIs(t, err, andromeda.ErrRedisUnavailable, "refused at the dial while the slot map is old")
		require.Less(t, time.Since(start), 3*time.Second, "valkey-go reloads its slot map within about a second")
	}
	value, err := target.Cmd(ctx, "get", key)
	require.NoError(t, err)
	assert.Equal(t, strconv.FormatInt(applied, 10), value, "each add that succeeded applied once, on the new owner; none of the others")
}
