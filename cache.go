package andromeda

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"time"
)

// Cache is the Redis transport andromeda keeps quota usage through: it runs the
// library's Lua scripts, reads keys, and takes the loader's lock. The algorithms own the
// scripts, their arguments and replies; a Cache only carries them. Use an adapter such as
// cache/redisv9 (recommended), cache/redisv8, cache/rueidis or cache/valkey; another
// implementation should pass the cache/cachetest conformance suite.
//
// Every method honours ctx.
type Cache interface {
	// RunScript runs s on the keys with args, by its SHA1 (EVALSHA), sending its source
	// (EVAL) only when the server answers NOSCRIPT, and returns the reply as one of nil,
	// int64, string or []any of those (Lua's false is nil, true is int64(1)). The
	// library always passes at least one key, all in one cluster hash slot; args are
	// int64, int and string values.
	//
	// It sends the script at most once for each call: the client must not resend it
	// after it may have been written, as a resend could apply a change twice. An error
	// from before the request was written to any connection wraps ErrNotSent; an error
	// reply from Redis is returned as an error with a RedisError() method whose text
	// starts with the reply's code (such as "MOVED" or "ERR"), as go-redis types them.
	// Any other error means the script may have run. An adapter that confirms writes
	// with WAIT does so inside RunScript, failing with an error wrapping
	// ErrUnknownOutcome when the replicas fell short.
	RunScript(ctx context.Context, s *Script, keys []string, args ...any) (any, error)

	// Get reads the string values at keys in as few round trips as the server allows
	// (one per cluster node); found[i] is false when keys[i] is absent. A key of another
	// type fails the call with Redis's WRONGTYPE error reply.
	Get(ctx context.Context, keys []string) (values []string, found []bool, err error)

	// Lock stores a fresh random token at key, if key is absent, for ttl, and returns the
	// token and a release that deletes key only while it still holds the token (and
	// changes nothing otherwise). When key is present, Lock fails at once with an error
	// wrapping ErrLockedKey. The token is what the loader's fenced write checks.
	Lock(ctx context.Context, key string, ttl time.Duration) (token string, release func(context.Context) error, err error)
}

// SlotRefresher is implemented by a Cache whose client can relearn the servers'
// topology (a cluster's slot map). The library calls it after an error that says the
// topology may have changed, before sending again what Redis did not run. The library
// finds it on the Cache it is given: a wrapper of an adapter (instrumentation, say) must
// implement it too, forwarding to the adapter, or a cluster's retries run a third of a
// second without relearning the slot map.
type SlotRefresher interface {
	// RefreshSlots starts relearning the topology, and reports whether the client has
	// one to relearn (a cluster client does; a plain client does not).
	RefreshSlots(ctx context.Context) bool
}

// ReplicaWaiter is implemented by a Cache that confirms each script's writes with WAIT
// inside RunScript. A replayed change writes nothing, so the library then sends one
// more script that rewrites the usage unchanged, for WAIT to cover the earlier write.
// The library finds it on the Cache it is given: a wrapper of an adapter must implement it
// too, forwarding to the adapter, or a replayed change is acknowledged without WAIT.
type ReplicaWaiter interface {
	// WaitsForReplicas reports whether RunScript confirms writes with WAIT.
	WaitsForReplicas() bool
}

// ErrNotSent marks an error from Cache.RunScript after which the request was certainly
// not written to any connection (the dial failed, the pool timed out, the handshake of a
// new connection failed): Redis cannot have run it, and the library may send it again.
var ErrNotSent = errors.New("request not sent")

// Script is a Lua script the library runs through Cache.RunScript: its source and the
// SHA1 that EVALSHA names it by.
type Script struct {
	source, sha string
}

// NewScript returns the Script with the Lua source.
func NewScript(source string) *Script {
	sum := sha1.Sum([]byte(source))
	return &Script{source: source, sha: hex.EncodeToString(sum[:])}
}

// Source returns the script's Lua source, for EVAL.
func (s *Script) Source() string { return s.source }

// SHA1 returns the hex SHA1 of the script's source, for EVALSHA.
func (s *Script) SHA1() string { return s.sha }
