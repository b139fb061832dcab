// Package valkey is the andromeda Cache over github.com/valkey-io/valkey-go, the
// Valkey project's fork of rueidis with the same automatic pipelining and API (this
// package mirrors cache/rueidis line for line). It works with a standalone, cluster or
// Sentinel client (RESP3); the package shares its name with the client's, so import one
// of them under another name.
//
// What was tested: valkey-go against redis-server 7 (standalone, 3-master cluster,
// Sentinel), with the conformance suite and the resend tests. No Valkey server has run
// these tests; Valkey forked from Redis 7.2 and keeps EVALSHA, EVAL, WAIT, SET NX PX and
// the error replies the cache reads.
//
// Each add or reduce on a warm key is one command: EVALSHA, with EVAL only the first
// time a server has not seen the script.
//
// A change is never applied twice by a resend: valkey-go resends only commands marked
// read-only or retryable, and change scripts go as plain EVALSHA and EVAL, which it never
// resends after a broken connection; it follows MOVED and ASK, which mean the script did
// not run. The cache reports as not sent (andromeda.ErrNotSent, which the library sends
// again) only what certainly was not written: a failed dial, no node for the slot, a
// context that had ended before the call. One client option defeats this: with
// ClientOption.ConnLifetime set, valkey-go resends a command in flight on a connection it
// closed for its age when the server did not answer within a second, so leave
// ConnLifetime at 0.
//
// valkey-go stops every call at its context's deadline by itself.
//
// The cache needs no client-side caching. NewClient fails against a server that cannot
// track keys for it (miniredis, which the tests here use with RESP3): set
// ClientOption.DisableCache there.
package valkey

import (
	"context"
	"fmt"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/scripts"
	vk "github.com/valkey-io/valkey-go"
)

// New returns a Cache that keeps usage through client, configured by opts. The Cache
// also implements andromeda.SlotRefresher and andromeda.ReplicaWaiter.
func New(client vk.Client, opts ...Option) andromeda.Cache {
	a := &adapter{client: client, unlock: vk.NewLuaScript(scripts.Unlock)}
	for _, opt := range opts {
		opt(&a.opts)
	}
	return a
}

// The optional interfaces the library looks for.
var (
	_ andromeda.SlotRefresher = (*adapter)(nil)
	_ andromeda.ReplicaWaiter = (*adapter)(nil)
)

type adapter struct {
	client vk.Client
	unlock *vk.Lua // the lock's compare-and-delete
	opts   options
}

// WaitsForReplicas reports whether changes are confirmed with WAIT.
func (a *adapter) WaitsForReplicas() bool { return a.opts.replicas.On() }

// RefreshSlots reports whether the client is a cluster client: valkey-go reloads its slot
// map by itself after the errors that make the library send a change again, so there is
// nothing to start.
func (a *adapter) RefreshSlots(context.Context) bool {
	return a.client.Mode() == vk.ClientModeCluster
}

// Get sends one GET per key in one DoMulti: a cluster client sends one pipeline per node.
func (a *adapter) Get(ctx context.Context, keys []string) ([]string, []bool, error) {
	cmds := make(vk.Commands, len(keys))
	for i, key := range keys {
		cmds[i] = a.client.B().Get().Key(key).Build()
	}
	values, found := make([]string, len(keys)), make([]bool, len(keys))
	for i, res := range a.client.DoMulti(ctx, cmds...) {
		value, err := res.ToString()
		switch {
		case vk.IsValkeyNil(err):
		case err != nil:
			return nil, nil, resultError(res) // WRONGTYPE keeps its text: the store reads it
		default:
			values[i], found[i] = value, true
		}
	}
	return values, found, nil
}

// redisError is Redis's refusal of a command: an error reply, or one the client gave in
// its place (see build). Its RedisError method is how the library tells Redis's answers
// from transport failures; errors.As still finds the client's *valkey.ValkeyError in it.
type redisError struct {
	text  string
	reply *vk.ValkeyError // nil when the client refused the command itself
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

// resultError is res's error, with an error reply from Redis as a redisError carrying
// the reply's full text: valkey-go trims a leading "ERR " from the text its own error
// gives, and the library reads error replies by their code.
func resultError(res vk.ValkeyResult) error {
	msg, err := res.ToMessage()
	if err == nil || vk.IsValkeyNil(err) || res.NonValkeyError() != nil {
		return err
	}
	reply := (*vk.ValkeyError)(&msg) // the message itself: its text untrimmed
	return redisError{text: reply.Error(), reply: reply}
}

// notSent wraps err, from before the command was written, with andromeda.ErrNotSent.
func notSent(err error) error { return fmt.Errorf("%w: %w", andromeda.ErrNotSent, err) }
