package valkey

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/ramadani/andromeda"
	vk "github.com/valkey-io/valkey-go"
)

// RunScript runs the script once: EVALSHA, then EVAL if the server answers NOSCRIPT (the
// script did not run then), each followed by WAIT when WaitForReplicas is set. valkey-go
// never resends either: they are neither read-only nor marked retryable.
func (a *adapter) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, notSent(err) // valkey-go would refuse it unsent too
	}
	argv := argStrings(args)
	reply, err := a.eval(ctx, func(b vk.Builder) (vk.Completed, error) {
		return build(func() vk.Completed {
			return b.Evalsha().Sha1(s.SHA1()).Numkeys(int64(len(keys))).Key(keys...).Arg(argv...).Build()
		})
	})
	var noScript redisError
	if errors.As(err, &noScript) && noScript.reply != nil && noScript.reply.IsNoScript() {
		reply, err = a.eval(ctx, func(b vk.Builder) (vk.Completed, error) {
			return build(func() vk.Completed {
				return b.Eval().Script(s.Source()).Numkeys(int64(len(keys))).Key(keys...).Arg(argv...).Build()
			})
		})
	}
	return reply, err
}

// eval sends the command that command builds, with WAIT after it when asked to. It
// builds the command anew for each send: valkey-go recycles a command once it is answered.
func (a *adapter) eval(ctx context.Context, command func(vk.Builder) (vk.Completed, error)) (any, error) {
	cmd, err := command(a.client.B())
	if err != nil {
		return nil, err
	}
	if !a.opts.replicas.On() {
		return outcome(a.client.Do(ctx, cmd))
	}
	return a.evalWithWait(ctx, cmd, command)
}

// maxAskRedirects bounds the ASK redirects the WAIT path follows itself: its dedicated
// connection goes to one master, and valkey-go follows no redirect on it.
const maxAskRedirects = 3

// evalWithWait sends cmd and WAIT together on one dedicated connection, to the master
// that owns cmd's slot on a cluster; after an ASK, to the master named, after ASKING.
func (a *adapter) evalWithWait(ctx context.Context, cmd vk.Completed, command func(vk.Builder) (vk.Completed, error)) (any, error) {
	dedicated, done := a.client.Dedicate()
	results := dedicated.DoMulti(ctx, cmd, a.waitCmd(dedicated.B()))
	done()
	for redirects := 0; ; redirects++ {
		reply, err := outcome(results[0])
		if err == nil {
			acked, werr := results[1].AsInt64()
			if werr != nil {
				werr = resultError(results[1])
			}
			return reply, a.opts.replicas.Check(acked, werr)
		}
		var ask redisError
		if !errors.As(err, &ask) || ask.reply == nil || redirects == maxAskRedirects {
			return nil, err
		}
		addr, ok := ask.reply.IsAsk()
		node := a.client.Nodes()[addr]
		if !ok || node == nil {
			return nil, err
		}
		if cmd, err = command(node.B()); err != nil {
			return nil, err
		}
		// WAIT is a blocking command: the node client sends all three on one connection.
		results = node.DoMulti(ctx, node.B().Asking().Build(), cmd, a.waitCmd(node.B()))[1:]
	}
}

func (a *adapter) waitCmd(b vk.Builder) vk.Completed {
	return b.Wait().Numreplicas(int64(a.opts.replicas.N)).Timeout(a.opts.replicas.Milliseconds()).Build()
}

// outcome turns a script command's result into RunScript's answer: Redis's error replies
// keep their text (with a RedisError method), and a failure before anything was written
// is marked andromeda.ErrNotSent; any other failure may have come after the write.
func outcome(res vk.ValkeyResult) (any, error) {
	msg, err := res.ToMessage()
	switch {
	case err == nil:
		return replyOf(&msg)
	case vk.IsValkeyNil(err):
		return nil, nil
	case neverWritten(err):
		return nil, notSent(err)
	}
	return nil, resultError(res)
}

// replyOf converts a script's reply to RunScript's types: RESP3 gives Lua's booleans as
// booleans, which RESP2 gave as 1 and nil.
func replyOf(m *vk.ValkeyMessage) (any, error) {
	switch {
	case m.IsNil():
		return nil, nil
	case m.IsInt64():
		return m.AsInt64()
	case m.IsString():
		return m.ToString()
	case m.IsBool():
		if b, err := m.AsBool(); err != nil || !b {
			return nil, err
		}
		return int64(1), nil
	case m.IsArray():
		items, err := m.ToArray()
		if err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i := range items {
			if out[i], err = replyOf(&items[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return m.ToAny() // a double or a map: no library script returns one
}

// neverWritten reports whether err certainly came before the command was written: the
// connection could not be dialled, or no node serves the key's slot.
func neverWritten(err error) bool {
	var op *net.OpError
	return errors.Is(err, vk.ErrNoSlot) || errors.As(err, &op) && op.Op == "dial"
}

// build runs a command builder, turning valkey-go's panic on keys in different slots (a
// cluster client checks them as it builds) into the CROSSSLOT refusal Redis would send.
func build(f func() vk.Completed) (cmd vk.Completed, err error) {
	defer func() {
		if r := recover(); r != nil {
			if msg, ok := r.(string); ok && msg == crossSlotPanic {
				err = redisError{text: "CROSSSLOT Keys in request don't hash to the same slot (refused by valkey-go before sending)"}
				return
			}
			panic(r)
		}
	}()
	return f(), nil
}

// crossSlotPanic is what valkey-go panics with when a command's keys are in different slots.
const crossSlotPanic = "multi key command with different key slots are not allowed"

// argStrings formats the scripts' arguments, integers and strings, as Redis reads them.
func argStrings(args []any) []string {
	out := make([]string, len(args))
	for i, arg := range args {
		switch v := arg.(type) {
		case string:
			out[i] = v
		case int64:
			out[i] = strconv.FormatInt(v, 10)
		case int:
			out[i] = strconv.Itoa(v)
		default:
			out[i] = fmt.Sprint(v) // the library passes only the types above
		}
	}
	return out
}
