package valkey_test

import (
	"context"
	"sync"
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

// Against a Redis that stops answering (paused) on a connection already open, concurrent
// changes return at their context's deadline, reporting ErrUnknownOutcome: the client
// honours the context by itself, with no timeout of its own involved.
func TestChangeHonoursContextOnAHungServer(t *testing.T) {
	server := redistest.Standalone(t)
	client := newClient(t, valkey.ClientOption{InitAddress: []string{server.Addr}})
	c := storeOver(cache.New(client))
	args := storetypes.AddUsageArgs{Key: "dl:{q}", Amount: 1, Limit: 10, CreateMissing: true}
	_, err := c.AddUsage(context.Background(), args) // warm: connection open, script loaded
	require.NoError(t, err)
	require.NoError(t, server.Pause())
	t.Cleanup(func() { _ = server.Resume() }) // before the client closes and the server stops

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.AddUsage(ctx, args)
			assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
			assert.Less(t, time.Since(start), time.Second, "the change waited past its context")
		}()
	}
	wg.Wait()
}
