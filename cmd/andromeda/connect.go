package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

// options are the command line's flags: the connection's, shared by every command, and
// those of the commands that have some.
type options struct {
	addr, cluster, sentinel, master, password string
	db                                        int
	timeout                                   time.Duration

	holdIDs  []string      // inspect
	expire   time.Duration // set-limit
	interval time.Duration // watch
	count    int           // watch
}

// defaultAddr is -addr's default.
var defaultAddr = "localhost:6379"

// defaultOptions are the options of a command line without flags.
func defaultOptions() options {
	return options{addr: defaultAddr, timeout: 5 * time.Second}
}

// connectionFlags registers the connection flags on fs. They are registered on the
// command line's flag set and on the command's, with the same targets, so that they may
// come before or after the command: each registration takes the value the targets hold
// as its default, so the second keeps what the first parsed.
func (o *options) connectionFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", o.addr, "address of a standalone Redis server")
	fs.StringVar(&o.cluster, "cluster", o.cluster, "comma-separated addresses of Redis Cluster nodes")
	fs.StringVar(&o.sentinel, "sentinel", o.sentinel, "comma-separated addresses of Sentinels (with -master)")
	fs.StringVar(&o.master, "master", o.master, "name of the master the Sentinels monitor")
	fs.StringVar(&o.password, "password", o.password, "Redis password")
	fs.IntVar(&o.db, "db", o.db, "database number (standalone and Sentinel)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "how long each call to Redis may take")
}

// client connects as the flags say, or returns a usage error when they contradict.
func (o *options) client() (redis.UniversalClient, error) {
	switch {
	case o.cluster != "" && o.sentinel != "":
		return nil, usagef("-cluster and -sentinel cannot be used together")
	case o.sentinel != "" && o.master == "":
		return nil, usagef("-sentinel needs -master NAME")
	case o.master != "" && o.sentinel == "":
		return nil, usagef("-master needs -sentinel addresses")
	case o.cluster != "" && o.db != 0:
		return nil, usagef("-db is not available on a Redis Cluster")
	case o.db < 0:
		return nil, usagef("-db %d: want 0 or more", o.db)
	case o.timeout <= 0:
		return nil, usagef("-timeout %v: want more than 0", o.timeout)
	}
	switch {
	case o.cluster != "":
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: splitList(o.cluster), Password: o.password}), nil
	case o.sentinel != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: o.master, SentinelAddrs: splitList(o.sentinel),
			Password: o.password, DB: o.db}), nil
	default:
		return redis.NewClient(&redis.Options{Addr: o.addr, Password: o.password, DB: o.db}), nil
	}
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(list string) []string {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// env is what a command runs with.
type env struct {
	client redis.UniversalClient
	cache  andromeda.Cache
	opts   *options
	out    io.Writer
}

func newEnv(client redis.UniversalClient, o *options, out io.Writer) *env {
	return &env{client: client, cache: redisv9.New(client), opts: o, out: out}
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.out, format, args...) }
