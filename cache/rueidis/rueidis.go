// Package rueidis is the andromeda Cache over github.com/redis/rueidis, the Redis
// client with automatic pipelining: concurrent callers' commands share a connection and
// go out together, each keeping its own reply, so a hot key's adds are not one round
// trip each. It works with a standalone, cluster or Sentinel client (RESP3, Redis 6 or
// later); the package shares its name with the client's, so import one of them under
// another name.
//
// Each add or reduce on a warm key is one command: EVALSHA, with EVAL only the first
// time a server has not seen the script.
//
// A change is never applied twice by a resend: rueidis resends only commands marked
// read-only or retryable, and change scripts go as plain EVALSHA and EVAL, which it never
// resends after a broken connection; it follows MOVED and ASK, which mean the script did
// not run. The cache itself sends again only what Redis certainly did not run (a failed
// dial, no node for the slot, TRYAGAIN, CLUSTERDOWN, LOADING, READONLY, MASTERDOWN); what
// may have run fails with andromeda.ErrUnknownOutcome. One client option defeats this:
// with ClientOption.ConnLifetime set, rueidis resends a command in flight on a
// connection it closed for its age when the server did not answer within a second, so
// leave ConnLifetime at 0.
//
// rueidis stops every call at its context's deadline by itself.
//
// The cache needs no client-side caching. NewClient fails against a server that cannot
// track keys for it (miniredis, which the tests here use with RESP3): set
// ClientOption.DisableCache there.
package rueidis

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/scriptcache"
	rd "github.com/redis/rueidis"
)

// New returns a Cache that keeps usage through client, configured by opts.
func New(client rd.Client, opts ...Option) andromeda.Cache {
	a := &adapter{client: client, release: rd.NewLuaScript(releaseSource)}
	for _, opt := range opts {
		opt(&a.opts)
	}
	return scriptcache.New(a)
}

type adapter struct {
	client  rd.Client
	release *rd.Lua // the lock's compare-and-delete
	opts    options
}

// WaitsForReplicas reports whether changes are confirmed with WAIT.
func (a *adapter) WaitsForReplicas() bool { return a.opts.replicas.On() }

// Refresh reports whether the client is a cluster client: rueidis reloads its slot map by
// itself after the errors that make the cache retry, so there is nothing to start.
func (a *adapter) Refresh(context.Context) bool { return a.client.Mode() == rd.ClientModeCluster }

func (a *adapter) SetNX(ctx context.Context, key string, value int64, expiration time.Duration) (bool, error) {
	set := a.client.B().Set().Key(key).Value(strconv.FormatInt(value, 10)).Nx()
	var err error
	if expiration > 0 {
		err = a.client.Do(ctx, set.PxMilliseconds(ms(expiration)).Build()).Error()
	} else {
		err = a.client.Do(ctx, set.Build()).Error()
	}
	if rd.IsRedisNil(err) {
		return false, nil // present: nothing set
	}
	return err == nil, replyError(err)
}

func (a *adapter) Set(ctx context.Context, key string, value int64, expiration time.Duration) error {
	set := a.client.B().Set().Key(key).Value(strconv.FormatInt(value, 10))
	if expiration > 0 {
		return replyError(a.client.Do(ctx, set.PxMilliseconds(ms(expiration)).Build()).Error())
	}
	return replyError(a.client.Do(ctx, set.Build()).Error())
}

// Get sends one GET per key in one DoMulti: a cluster client sends one pipeline per node.
func (a *adapter) Get(ctx context.Context, keys []string) ([]string, []bool, error) {
	cmds := make(rd.Commands, len(keys))
	for i, key := range keys {
		cmds[i] = a.client.B().Get().Key(key).Build()
	}
	values, found := make([]string, len(keys)), make([]bool, len(keys))
	for i, res := range a.client.DoMulti(ctx, cmds...) {
		value, err := res.ToString()
		switch {
		case rd.IsRedisNil(err):
		case err != nil:
			return nil, nil, replyError(err) // unwrapped, as go-redis: the cache reads WRONGTYPE from it
		default:
			values[i], found[i] = value, true
		}
	}
	return values, found, nil
}

// redisError is Redis's refusal of a command: an error reply, or one the client gave in
// its place (see crossSlot). Its RedisError method is how scriptcache tells Redis's
// answers from transport failures; errors.As still finds the client's *rueidis.RedisError
// in it.
type redisError struct {
	text  string
	reply *rd.RedisError // nil when the client refused the command itself
}

func (e redisError) Error() string { return e.text }

// RedisError marks the error as Redis's answer.
func (redisError) RedisError() {}

// Unwrap returns the client's error reply, if there was one.
func (e redisError) Unwrap() error {
	if e.reply == nil {
		return nil
	}
	return e.reply
}

// replyError marks err as Redis's reply when it is one.
func replyError(err error) error {
	var reply *rd.RedisError
	if errors.As(err, &reply) && !reply.IsNil() {
		return redisError{text: reply.Error(), reply: reply}
	}
	return err
}

// ms is a positive expiration in whole milliseconds, rounded up: PX 0 is an error.
func ms(expiration time.Duration) int64 {
	return int64((expiration + time.Millisecond - 1) / time.Millisecond)
}
