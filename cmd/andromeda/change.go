package main

import (
	"context"
	"errors"
	"flag"
	"strconv"

	"github.com/ramadani/andromeda"
)

var setLimitCommand = command{
	args:    "KEY N",
	summary: "keep N as the limit in Redis of the quota whose usage is at KEY (at andromeda.LimitKey(KEY))",
	minArgs: 2, maxArgs: 2,
	flags: func(fs *flag.FlagSet, o *options) {
		fs.DurationVar(&o.expire, "expire", 0, "how long the limit is kept (0: no expiration)")
	},
	run: setLimit,
}

func setLimit(ctx context.Context, e *env, args []string) error {
	key := args[0]
	limit, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return usagef("set-limit: limit %q is not a whole number", args[1])
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
	defer cancel()
	if err := andromeda.SetQuotaLimit(ctx, e.cache, key, limit, e.opts.expire); err != nil {
		return asUsage(err)
	}
	expiry := "no expiration"
	if e.opts.expire > 0 {
		expiry = "expires in " + e.opts.expire.String()
	}
	e.printf("limit of %s set to %d at %s (%s)\n", key, limit, andromeda.LimitKey(key), expiry)
	e.printf("change it in your database too, or GetQuotaLimit brings the old one back when this one is gone\n")
	return nil
}

var releaseCommand = command{
	args:    "KEY",
	summary: "give back the holds on KEY that ended without a commit or cancel",
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, e *env, args []string) error {
		ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
		defer cancel()
		usage, found, err := andromeda.ReleaseExpiredHolds(ctx, e.cache, args[0])
		if err != nil {
			return asUsage(err)
		}
		if !found {
			e.printf("%s: no usage in Redis; holds it counted, if any, are dropped\n", args[0])
			return nil
		}
		e.printf("%s: expired holds released, usage now %d\n", args[0], usage)
		return nil
	},
}

var forgetCommand = command{
	args:    "KEY",
	summary: "make Redis forget the usage at KEY and its holds; the next change loads it from the database",
	minArgs: 1, maxArgs: 1,
	run: func(ctx context.Context, e *env, args []string) error {
		ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
		defer cancel()
		usage, found, err := andromeda.ForgetUsage(ctx, e.cache, args[0])
		if err != nil {
			return asUsage(err)
		}
		if !found {
			e.printf("%s: no usage in Redis, nothing to forget\n", args[0])
			return nil
		}
		e.printf("%s: forgot usage %d and its holds; the next change loads it from the database\n", args[0], usage)
		return nil
	},
}

// asUsage reports a request the library refused as invalid as a usage error.
func asUsage(err error) error {
	if errors.Is(err, andromeda.ErrInvalidRequest) {
		return usageError{err.Error()}
	}
	return err
}
