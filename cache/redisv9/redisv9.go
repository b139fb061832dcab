// Package redisv9 is the andromeda Cache over github.com/redis/go-redis/v9, with
// github.com/bsm/redislock for the loader lock. It works with a standalone client, a
// cluster (Redis 7 included), a ring or a failover (Sentinel) client.
//
// Each add or reduce on a warm key is one round trip: EVALSHA, with EVAL only the first
// time a server has not seen the script.
//
// A change is never applied twice by a resend, whatever the client's MaxRetries and
// MaxRedirects: change scripts go as commands whose NoRetry is true, which go-redis v9
// never resends once written (Client, ClusterClient, Ring, failover client and
// pipelines alike). The cache itself sends again only what Redis certainly did not run
// (a refused or failed dial, TRYAGAIN, MOVED or ASK beyond the client's redirects,
// CLUSTERDOWN, LOADING, READONLY, MASTERDOWN), and then makes a cluster client reload
// its slot map; what may have run fails with andromeda.ErrUnknownOutcome. MaxRetries: -1
// is not needed. Plain reads and the loader's lock still use the client's retries.
//
// go-redis stops a call at its context's deadline only when the client is created with
// Options.ContextTimeoutEnabled (ClusterOptions, FailoverOptions and so on alike);
// otherwise ReadTimeout and WriteTimeout bound each call. The cache bounds every change
// by its context itself on a client without it: a change whose context ends first fails
// with andromeda.ErrUnknownOutcome at once, while the call ends in the background within
// the client's timeouts. Set ContextTimeoutEnabled anyway when your deadlines are shorter
// than those timeouts: plain reads and the loader's lock then honour them too, and no
// goroutine is spent per change.
package redisv9

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	"github.com/ramadani/andromeda"
	"github.com/redis/go-redis/v9"
)

// New returns a Cache that keeps usage through client, configured by opts.
//
// Whatever the client's MaxRetries and MaxRedirects, a change script is never resent
// once it may have been written (see onceCmd): a change whose reply was lost fails with
// andromeda.ErrUnknownOutcome instead of counting twice.
func New(client redis.UniversalClient, opts ...Option) andromeda.Cache {
	a := &adapter{client: client, locker: redislock.New(client), contextAware: honoursContext(client)}
	for _, opt := range opts {
		opt(&a.opts)
	}
	if _, ring := client.(*redis.Ring); ring && a.opts.replicas.On() {
		panic("redisv9.New: WaitForReplicas does not work with a Ring: its shards are standalone servers")
	}
	return a
}

type adapter struct {
	client redis.UniversalClient
	locker *redislock.Client
	opts   options
	// contextAware: the client stops calls at their context's deadline by itself.
	contextAware bool
}

// Get pipelines one GET per key: a cluster client sends one pipeline per node.
func (a *adapter) Get(ctx context.Context, keys []string) ([]string, []bool, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.Get(ctx, key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	values, found := make([]string, len(keys)), make([]bool, len(keys))
	for i, cmd := range cmds {
		value, err := cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, nil, err
		default:
			values[i], found[i] = value, true
		}
	}
	return values, found, nil
}

// Lock takes a bsm/redislock lock, whose token the loader's fenced write checks.
func (a *adapter) Lock(ctx context.Context, key string, ttl time.Duration) (string, func(context.Context) error, error) {
	lock, err := a.locker.Obtain(ctx, key, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return "", nil, fmt.Errorf("%w: %q", andromeda.ErrLockedKey, key)
	}
	if err != nil {
		return "", nil, fmt.Errorf("lock %q: %w", key, err)
	}
	release := func(ctx context.Context) error {
		if err := lock.Release(ctx); !errors.Is(err, redislock.ErrLockNotHeld) {
			return err
		}
		return nil // expired or taken by another: nothing to release
	}
	// Without metadata the value redislock stores is the token itself.
	return lock.Token(), release, nil
}
