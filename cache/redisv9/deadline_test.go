package redisv9_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/storetypes"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// silentServer accepts connections and reads what it is sent, never replying: a Redis
// that hangs. It stops, closing every connection, when the test ends.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// On a client without ContextTimeoutEnabled, a change against a Redis that hangs returns
// at its context's deadline, long before the client's ReadTimeout, reporting
// ErrUnknownOutcome (redisv9.New's doc); the send left behind ends when the client is
// closed, leaking no goroutine. Held.
func TestChangeHonoursContextOnAPlainClient(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last: after the server stops
	addr := silentServer(t)
	const readTimeout = 3 * time.Second
	client := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: readTimeout, MaxRetries: -1})
	cache := storeOver(redisv9.New(client))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := cache.AddUsage(ctx, storetypes.AddUsageArgs{Key: "dl:{q}", Amount: 1, Limit: 10, CreateMissing: true})
			elapsed := time.Since(start)
			assert.True(t, errors.Is(err, andromeda.ErrUnknownOutcome), "err: %v", err)
			assert.Less(t, elapsed, readTimeout/2, "the change waited for the client's timeout, not its context")
		}()
	}
	wg.Wait()
	require.NoError(t, client.Close())
}
