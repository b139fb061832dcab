package redisv9

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/goredis"
	"github.com/redis/go-redis/v9"
)

// onceCmd is a command the client sends at most once. go-redis v9 resends a command
// after a network error (MaxRetries, and a cluster client's MaxRedirects after EOF)
// unless its NoRetry is true; then every resend after the command may have been written
// stops (Client, ClusterClient, Ring, failover client, pipelines alike). It also stops
// the resend after a failed dial, which is safe: Run reports those errors as
// goredis.ErrNotSent and the cache retries them itself.
type onceCmd struct{ *redis.Cmd }

// NoRetry tells go-redis not to send the command again.
func (onceCmd) NoRetry() bool { return true }

// WaitsForReplicas reports whether changes are confirmed with WAIT.
func (a *adapter) WaitsForReplicas() bool { return a.opts.replicas.On() }

// RunScript runs the script once: EVALSHA, then EVAL if the server answers NOSCRIPT
// (the script did not run then), each followed by WAIT when WaitForReplicas is set.
func (a *adapter) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	text := goredis.TextOf(s)
	reply, err := a.eval(ctx, verbEvalSHA, text.SHA, keys, args)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		reply, err = a.eval(ctx, verbEval, text.Source, keys, args)
	}
	return reply, err
}

// The verbs, boxed once: a string variable put in an interface costs an allocation.
var (
	verbEvalSHA any = "evalsha"
	verbEval    any = "eval"
)

// call is one attempt's allocation: its Marker, and room for a short command's arguments.
type call struct {
	marker goredis.Marker
	args   [12]any
}

// command builds one EVAL or EVALSHA whose script (SHA1 or source) is marked.
func command(ctx context.Context, verb any, script []byte, keys []string, args []any) (onceCmd, *goredis.Marker) {
	c := new(call)
	c.marker.Set(script)
	cmdArgs := c.args[:0]
	if n := 3 + len(keys) + len(args); n > len(c.args) {
		cmdArgs = make([]any, 0, n)
	}
	cmdArgs = append(cmdArgs, verb, &c.marker, len(keys))
	for _, key := range keys {
		cmdArgs = append(cmdArgs, key)
	}
	cmdArgs = append(cmdArgs, args...)
	return onceCmd{redis.NewCmd(ctx, cmdArgs...)}, &c.marker
}

// eval sends one EVAL or EVALSHA, and WAIT after it when asked to.
func (a *adapter) eval(ctx context.Context, verb any, script []byte, keys []string, args []any) (any, error) {
	if a.opts.replicas.On() {
		return a.evalWithWait(ctx, verb, script, keys, args)
	}
	cmd, marker := command(ctx, verb, script, keys, args)
	if a.contextAware || ctx.Done() == nil {
		_ = a.client.Process(ctx, cmd) // no goroutine, no closure: the common path
	} else if err := a.withinContext(ctx, func() { _ = a.client.Process(ctx, cmd) }); err != nil {
		return nil, err
	}
	return result(cmd, marker)
}

// maxAskRedirects bounds the ASK redirects the WAIT path follows itself (a cluster
// client follows MOVED and ASK for commands it routes; the WAIT pipeline goes to one
// master's client, which does not).
const maxAskRedirects = 3

// evalWithWait sends one EVAL or EVALSHA with WAIT after it, in one pipeline.
func (a *adapter) evalWithWait(ctx context.Context, verb any, script []byte, keys []string, args []any) (any, error) {
	var askTarget *redis.Client
	for redirects := 0; ; redirects++ {
		cmd, marker := command(ctx, verb, script, keys, args)
		var wait *redis.IntCmd
		if err := a.withinContext(ctx, func() { wait = a.processWithWait(ctx, keys[0], cmd, askTarget) }); err != nil {
			return nil, err
		}
		reply, err := result(cmd, marker)
		if err == nil {
			return reply, a.opts.replicas.Check(wait.Result())
		}
		// ASK: the key is moving to another master mid-migration, and the script did
		// not run here. Send it there, after ASKING, on one connection.
		if addr, ok := askAddr(err); ok && redirects < maxAskRedirects {
			if askTarget = a.masterAt(ctx, addr); askTarget != nil {
				continue
			}
		}
		return nil, err
	}
}

// askAddr returns the address of an ASK redirect.
func askAddr(err error) (string, bool) {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return "", false
	}
	fields := strings.Fields(reply.Error())
	if len(fields) != 3 || fields[0] != "ASK" {
		return "", false
	}
	return fields[2], true
}

// masterAt returns the cluster client's client for the master at addr, if it knows one.
func (a *adapter) masterAt(ctx context.Context, addr string) *redis.Client {
	cluster, ok := a.client.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	var mu sync.Mutex
	var found *redis.Client
	_ = cluster.ForEachMaster(ctx, func(_ context.Context, master *redis.Client) error {
		if master.Options().Addr == addr {
			mu.Lock()
			found = master
			mu.Unlock()
		}
		return nil
	})
	return found
}

// result is the command's reply, with an error that was not a reply from Redis marked
// ErrNotSent when the command was never written.
func result(cmd onceCmd, marker *goredis.Marker) (any, error) {
	reply, err := cmd.Result()
	return goredis.Outcome(reply, err, redis.Nil, marker)
}

// processWithWait sends cmd and WAIT in one pipeline on one connection: to the master
// that owns key on a cluster, WAIT having no key of its own to be routed by, or, after
// ASKING, to askTarget.
func (a *adapter) processWithWait(ctx context.Context, key string, cmd onceCmd, askTarget *redis.Client) *redis.IntCmd {
	wait := redis.NewIntCmd(ctx, "wait", a.opts.replicas.N, a.opts.replicas.Milliseconds())
	if askTarget != nil {
		p := askTarget.Pipeline()
		_ = p.Process(ctx, redis.NewStatusCmd(ctx, "asking"))
		_ = p.Process(ctx, cmd)
		_ = p.Process(ctx, wait)
		_, _ = p.Exec(ctx)
		return wait
	}
	pipeliner := a.client.Pipeline
	if cluster, ok := a.client.(*redis.ClusterClient); ok {
		master, err := cluster.MasterForKey(ctx, key)
		if err != nil {
			cmd.SetErr(err)
			return wait
		}
		pipeliner = master.Pipeline
	}
	p := pipeliner()
	_ = p.Process(ctx, cmd)
	_ = p.Process(ctx, wait)
	_, _ = p.Exec(ctx)
	return wait
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
