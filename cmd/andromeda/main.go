// Command andromeda looks at and acts on the quotas andromeda keeps in Redis, for an
// operator during an incident:
//
//	andromeda [connection flags] COMMAND [flags] ARGS
//
//	inspect KEY             usage, limit, TTLs and holds of the quota whose usage is at KEY;
//	                        -hold ID (repeatable) shows that hold's record too
//	set-limit KEY N         change the limit kept in Redis (andromeda.SetQuotaLimit);
//	                        -expire D keeps it for D only
//	release-expired KEY     give back the holds that ended (andromeda.ReleaseExpiredHolds)
//	forget KEY              make Redis forget the usage, reloaded from the database by the
//	                        next change (andromeda.ForgetUsage)
//	watch KEY...            usage against limit, refreshed every -interval (default 1s),
//	                        -count N times (default: until interrupted)
//
// Flags may follow the arguments too ("inspect KEY -hold ID"). Connection flags (before
// or after COMMAND): -addr host:port (a standalone server, the default localhost:6379),
// -cluster a,b,c (a Redis Cluster), -sentinel a,b,c with -master NAME (Sentinel),
// -password, -db, -timeout. It exits with 0 on success, 1 when Redis or a value it holds
// made the command fail, and 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // Redis failed, or holds something the command cannot use
	exitUsage = 2 // the command line is wrong
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its flags (besides the connection's), how many arguments it
// takes, and what it does.
type command struct {
	args    string // the arguments, for the usage line
	summary string
	minArgs int
	maxArgs int // -1: no maximum
	flags   func(fs *flag.FlagSet, o *options)
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = map[string]command{
	"inspect":         inspectCommand,
	"set-limit":       setLimitCommand,
	"release-expired": releaseCommand,
	"forget":          forgetCommand,
	"watch":           watchCommand,
}

var commandOrder = []string{"inspect", "set-limit", "release-expired", "forget", "watch"}

// usageError is a wrong command line: reported with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run runs the command line args, writing results to stdout and errors to stderr, and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := runContext(ctx, args, stdout, stderr)
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "andromeda: %v\n", err)
		fmt.Fprintln(stderr, "run 'andromeda -h' for usage")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "andromeda: %v\n", err)
		return exitError
	}
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := defaultOptions()
	global := flag.NewFlagSet("andromeda", flag.ContinueOnError)
	global.SetOutput(stderr)
	o.connectionFlags(global)
	global.Usage = func() { printUsage(stderr, global) }
	if err := global.Parse(args); err != nil {
		return flagError(err)
	}
	if global.NArg() == 0 {
		return usagef("no command: want one of %v", commandOrder)
	}
	name := global.Arg(0)
	cmd, ok := commands[name]
	if !ok {
		return usagef("unknown command %q: want one of %v", name, commandOrder)
	}
	fs := flag.NewFlagSet("andromeda "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.connectionFlags(fs)
	if cmd.flags != nil {
		cmd.flags(fs, &o)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: andromeda %s [flags] %s\n  %s\n", name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, global.Args()[1:])
	if err != nil {
		return flagError(err)
	}
	if len(rest) < cmd.minArgs || (cmd.maxArgs >= 0 && len(rest) > cmd.maxArgs) {
		return usagef("%s takes %s, got %d argument(s)", name, cmd.args, len(rest))
	}
	for _, key := range rest {
		if key == "" {
			return usagef("%s: empty key", name)
		}
	}
	client, err := o.client()
	if err != nil {
		return err
	}
	defer client.Close()
	err = cmd.run(ctx, newEnv(client, &o, stdout), rest)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("%w (no answer from Redis within %v: is it reachable?)", err, o.timeout)
	}
	return err
}

// flagError turns the flag package's parse error into a usage error (it has printed it).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}

func printUsage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintln(w, "usage: andromeda [connection flags] COMMAND [flags] ARGS")
	fmt.Fprintln(w, "\ncommands:")
	for _, name := range commandOrder {
		cmd := commands[name]
		fmt.Fprintf(w, "  %-20s %s\n", name+" "+cmd.args, cmd.summary)
	}
	fmt.Fprintln(w, "\nconnection flags:")
	global.PrintDefaults()
}
