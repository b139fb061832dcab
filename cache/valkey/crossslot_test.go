package valkey_test

import (
	"context"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	cache "github.com/ramadani/andromeda/cache/valkey"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"
)

// A valkey-go cluster client panics when it builds a command whose keys are in different
// slots; the cache turns that into the CROSSSLOT refusal Redis would give, with or without
// WaitForReplicas, and nothing changes.
func TestKeysInDifferentSlotsAreCrossSlot(t *testing.T) {
	ctx := context.Background()
	client := newClient(t, valkey.ClientOption{InitAddress: cluster.Get(t).Addrs()})
	for _, c := range []usageStore{storeOver(cache.New(client)), storeOver(cache.New(client, cache.WaitForReplicas(1, 10*time.Millisecond)))} {
		_, err := c.AddUsages(ctx, []storetypes.AddUsageArgs{
			{Key: "campaign-42:usage", Amount: 1, Limit: 10, CreateMissing: true},
			{Key: "campaign-42:user:ann", Amount: 1, Limit: 2, CreateMissing: true},
		})
		require.ErrorIs(t, err, andromeda.ErrCrossSlot)
		assert.NotErrorIs(t, err, andromeda.ErrUnknownOutcome)
		for _, key := range []string{"campaign-42:usage", "campaign-42:user:ann"} {
			err := client.Do(ctx, client.B().Get().Key(key).Build()).Error()
			assert.True(t, valkey.IsValkeyNil(err), "%s: %v", key, err)
		}
	}
}
