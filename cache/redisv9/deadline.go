package redisv9

import (
	"context"
	"fmt"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/goredis"
	"github.com/redis/go-redis/v9"
)

// honoursContext reports whether client stops a call at its context's deadline by itself:
// go-redis v9 does only with ContextTimeoutEnabled, and otherwise waits out ReadTimeout
// (3 s by default) on a server that hangs.
func honoursContext(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// withinContext runs send, and returns when it is done or when ctx ends, whichever comes
// first, so that a change honours its caller's deadline on any client. When ctx ends
// first, send goes on in the background until the client's own timeouts end it, and the
// change's outcome is unknown: it may still reach Redis.
func (a *adapter) withinContext(ctx context.Context, send func()) error {
	if a.contextAware || ctx.Done() == nil {
		send()
		return nil
	}
	if err := ctx.Err(); err != nil { // ended before anything was sent: nothing changed
		return goredis.NotSent(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		send()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: the context ended while the change was being sent or awaited: %w", andromeda.ErrUnknownOutcome, ctx.Err())
	}
}
