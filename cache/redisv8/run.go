package redisv8

import (
	"context"
	"strings"

	"github.com/go-redis/redis/v8"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/goredis"
)

// go-redis v8 resends a command after a network error up to MaxRetries times (3 by
// default), and no command can opt out: v8's Cmder has no NoRetry. What it does have is
// the sticky connection behind Client.Conn and Tx: once that one connection breaks, every
// further attempt fails with "Conn is in a bad state" instead of dialling anew. So each
// change runs on its own sticky connection taken from the client's pool (no extra round
// trip: Conn borrows a pooled connection and gives it back on Close), and a resend after
// the connection broke cannot happen. A dial failure still happens before the sticky
// connection exists, and is retried by the client as before (nothing was sent).
//
// A cluster client routes by the master that owns the first key (MasterForKey), and a
// Ring by its shard (Ring.Watch, which costs a WATCH and an UNWATCH round trip: v8 has no
// other way to reach one shard's connection); MOVED, ASK and the like come back as
// errors, which the cache retries after the client reloaded its slot map. Another
// implementation of UniversalClient is used as it is, with whatever resends it makes.

// WaitsForReplicas reports whether changes are confirmed with WAIT.
func (a *adapter) WaitsForReplicas() bool { return a.opts.replicas.On() }

// session is the part of a sticky connection (*redis.Conn, *redis.Tx) Run uses.
type session interface {
	Process(ctx context.Context, cmd redis.Cmder) error
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// RunScript runs the script once on one connection: EVALSHA, then EVAL if the server
// answers NOSCRIPT (the script did not run then), each followed by WAIT when
// WaitForReplicas is set.
func (a *adapter) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (reply any, err error) {
	text := goredis.TextOf(s)
	run := func(conn session) error {
		reply, err = a.eval(ctx, conn, "evalsha", text.SHA, keys, args)
		if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			reply, err = a.eval(ctx, conn, "eval", text.Source, keys, args)
		}
		return nil
	}
	if serr := a.withSession(ctx, keys[0], run); serr != nil {
		return nil, goredis.NotSent(serr)
	}
	return reply, err
}

// withSession calls fn with a sticky connection to the server that owns key. Its error
// is one from before anything was sent.
func (a *adapter) withSession(ctx context.Context, key string, fn func(session) error) error {
	switch client := a.client.(type) {
	case *redis.Client:
		conn := client.Conn(ctx)
		defer conn.Close()
		return fn(conn)
	case *redis.ClusterClient:
		master, err := client.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		conn := master.Conn(ctx)
		defer conn.Close()
		return fn(conn)
	case *redis.Ring:
		var fnErr error
		err := client.Watch(ctx, func(tx *redis.Tx) error {
			fnErr = fn(tx)
			return nil
		}, key)
		if fnErr == nil && err != nil {
			// WATCH itself failed: the script was not sent, but WATCH may have been
			// (harmless: it changes nothing).
			return err
		}
		return fnErr
	default:
		return fn(a.client)
	}
}

// eval sends one EVAL or EVALSHA on conn, and WAIT after it when asked to.
func (a *adapter) eval(ctx context.Context, conn session, verb string, script []byte, keys []string, args []any) (any, error) {
	marker := new(goredis.Marker)
	marker.Set(script)
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, verb, marker, len(keys))
	for _, key := range keys {
		cmdArgs = append(cmdArgs, key)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)

	if !a.opts.replicas.On() {
		_ = conn.Process(ctx, cmd)
		return result(cmd, marker)
	}
	wait := redis.NewIntCmd(ctx, "wait", a.opts.replicas.N, a.opts.replicas.Milliseconds())
	_, _ = conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		_ = p.Process(ctx, cmd)
		_ = p.Process(ctx, wait)
		return nil
	})
	reply, err := result(cmd, marker)
	if err != nil {
		return nil, err
	}
	return reply, a.opts.replicas.Check(wait.Result())
}

// result is the command's reply, with an error that was not a reply from Redis marked
// ErrNotSent when the command was never written.
func result(cmd *redis.Cmd, marker *goredis.Marker) (any, error) {
	reply, err := cmd.Result()
	return goredis.Outcome(reply, err, redis.Nil, marker)
}

// RefreshSlots makes a cluster client reload its slot map soon, after an error that says the
// topology changed (a dead master, MOVED, CLUSTERDOWN, READONLY).
func (a *adapter) RefreshSlots(ctx context.Context) bool {
	cluster, ok := a.client.(*redis.ClusterClient)
	if ok {
		cluster.ReloadState(ctx)
	}
	return ok
}
