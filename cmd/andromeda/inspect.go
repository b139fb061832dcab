package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ramadani/andromeda"
)

var inspectCommand = command{
	args:    "KEY",
	summary: "show the usage at KEY, its limit, TTLs and holds",
	minArgs: 1, maxArgs: 1,
	flags: func(fs *flag.FlagSet, o *options) {
		fs.Func("hold", "ID of a hold (its idempotency key) whose record to show too; repeat for more", func(id string) error {
			if id == "" {
				return errors.New("empty hold ID")
			}
			o.holdIDs = append(o.holdIDs, id)
			return nil
		})
	},
	run: inspect,
}

// inspect prints what Redis holds for the quota whose usage is at args[0], read in one
// step. A key holding what andromeda did not write is shown, and makes it fail.
func inspect(ctx context.Context, e *env, args []string) error {
	key := args[0]
	ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
	defer cancel()
	snap, err := readSnapshot(ctx, e.client, key, e.opts.holdIDs)
	if err != nil {
		return err
	}
	var bad error // the first value that is not andromeda's: shown, then returned
	w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "quota\t%s\n", key)
	fmt.Fprintf(w, "server time\t%s\n", snap.now.Format(time.RFC3339Nano))

	usage, hasUsage, err := snap.usage.number()
	switch {
	case err != nil:
		bad = firstError(bad, err)
		fmt.Fprintf(w, "usage\tnot a usage: %v\n", err)
	case hasUsage:
		fmt.Fprintf(w, "usage\t%d\t%s\n", usage, snap.usage.expiry())
	default:
		fmt.Fprintf(w, "usage\tnot in Redis\tthe next change loads it from the database\n")
	}

	limit, hasLimit, err := snap.limit.number()
	switch {
	case err != nil:
		bad = firstError(bad, err)
		fmt.Fprintf(w, "limit\tnot a limit: %v\n", err)
	case hasLimit:
		fmt.Fprintf(w, "limit\t%d\t%s, at %s\n", limit, snap.limit.expiry(), snap.limit.key)
		if hasUsage {
			fmt.Fprintf(w, "remaining\t%d\n", max(limit-usage, 0))
		}
	default:
		fmt.Fprintf(w, "limit\tnot kept in Redis\tno key %s (without CacheLimit, GetQuotaLimit is read on every change)\n", snap.limit.key)
	}

	for i, id := range e.opts.holdIDs {
		bad = firstError(bad, showHold(w, snap, id, snap.records[i]))
	}
	switch snap.buckets.kind {
	case "none":
		fmt.Fprintf(w, "holds\tnone\n")
		return bad
	case "hash":
	default:
		fmt.Fprintf(w, "holds\tkey %s holds a %s, not hold buckets\n", snap.buckets.key, snap.buckets.kind)
		return firstError(bad, fmt.Errorf("%w: key %q holds a %s, not hold buckets", andromeda.ErrInvalidCachedUsage, snap.buckets.key, snap.buckets.kind))
	}
	if snap.bucketsErr != nil {
		fmt.Fprintf(w, "holds\tnot hold buckets: %v\n", snap.bucketsErr)
		return firstError(bad, snap.bucketsErr)
	}
	var open, expired int64
	for _, b := range snap.holds {
		if b.ends.After(snap.now) {
			open = saturatingAdd(open, b.amount)
		} else {
			expired = saturatingAdd(expired, b.amount)
		}
	}
	fmt.Fprintf(w, "holds\t%d open, %d expired\t%s, at %s\n", open, expired, snap.buckets.expiry(), snap.buckets.key)
	if !hasUsage {
		fmt.Fprintf(w, "\tlost with the usage: the next change drops them\n")
	} else if expired > 0 {
		fmt.Fprintf(w, "\texpired holds are still counted until the next change or release-expired\n")
	}
	fmt.Fprintf(w, "\tholds that end at the same time are summed (each hold's record is at HoldKeys(KEY, ID))\n")
	fmt.Fprintf(w, "  ends\tamount\tstate\n")
	for _, b := range snap.holds {
		state := "open, ends in " + roughly(b.ends.Sub(snap.now))
		if !b.ends.After(snap.now) {
			state = "expired " + roughly(snap.now.Sub(b.ends)) + " ago"
		}
		fmt.Fprintf(w, "  %s\t%d\t%s\n", b.ends.Format("2006-01-02T15:04:05.000Z07:00"), b.amount, state)
	}
	return bad
}

// showHold prints one hold's record: its state as the hold script would see it now.
func showHold(w io.Writer, snap snapshot, id string, record stored) error {
	switch record.kind {
	case "none":
		fmt.Fprintf(w, "hold %s\tnot found\tnever made, or closed longer ago than its retention\n", id)
		return nil
	case "hash":
	default:
		fmt.Fprintf(w, "hold %s\tkey %s holds a %s\n", id, record.key, record.kind)
		return fmt.Errorf("%w: key %q holds a %s, not a hold", andromeda.ErrInvalidCachedUsage, record.key, record.kind)
	}
	state, amount := record.field("state"), record.field("amount")
	endsMs, err := strconv.ParseInt(record.field("ends"), 10, 64)
	if err != nil || state == "" || amount == "" {
		fmt.Fprintf(w, "hold %s\tnot a hold record: %q\n", id, record.fields)
		return fmt.Errorf("%w: key %q holds %q, not a hold", andromeda.ErrInvalidCachedUsage, record.key, record.fields)
	}
	ends := time.UnixMilli(endsMs).UTC()
	detail := "ends " + ends.Format("2006-01-02T15:04:05.000Z07:00")
	if state == "refused" { // a reserve refused for the limit: it never held anything
		detail = "held nothing"
	}
	if state == "active" {
		switch {
		case record.field("epoch") != snap.epoch:
			state, detail = "expired", "lost with the usage that counted it"
		case !ends.After(snap.now):
			state, detail = "expired", "ended "+roughly(snap.now.Sub(ends))+" ago, not committed or cancelled"
		default:
			state, detail = "open", detail+", in "+roughly(ends.Sub(snap.now))
		}
	}
	fmt.Fprintf(w, "hold %s\t%s, amount %s\t%s; record %s\n", id, state, amount, detail, record.expiry())
	return nil
}

func firstError(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// saturatingAdd adds two bucket sums, which may each be near 2^63, without wrapping.
func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
