package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramadani/andromeda"
)

var watchCommand = command{
	args:    "KEY...",
	summary: "show the usage at each KEY against its limit, refreshed every -interval",
	minArgs: 1, maxArgs: -1,
	flags: func(fs *flag.FlagSet, o *options) {
		fs.DurationVar(&o.interval, "interval", time.Second, "time between refreshes")
		fs.IntVar(&o.count, "count", 0, "stop after this many refreshes (0: until interrupted)")
	},
	run: watch,
}

// barWidth is the number of cells of a usage bar.
const barWidth = 20

// watch shows the usage at each key against the limit kept in Redis, every interval,
// until count refreshes were shown or ctx ends (SIGINT, SIGTERM: not an error). On a
// terminal each refresh replaces the last. A refresh that fails is shown as such; watch
// goes on, and fails at the end when the last of count refreshes failed.
func watch(ctx context.Context, e *env, keys []string) error {
	if e.opts.interval <= 0 {
		return usagef("watch: -interval %v: want more than 0", e.opts.interval)
	}
	if e.opts.count < 0 {
		return usagef("watch: -count %d: want 0 or more", e.opts.count)
	}
	clear := isTerminal(e.out)
	ticker := time.NewTicker(e.opts.interval)
	defer ticker.Stop()
	var last error
	for n := 1; ; n++ {
		frame, err := watchFrame(ctx, e, keys)
		if ctx.Err() != nil {
			return nil // interrupted: the last frame shown stands
		}
		last = err
		if clear {
			e.printf("\033[H\033[2J")
		} else if n > 1 {
			e.printf("\n")
		}
		e.printf("%s", frame)
		if e.opts.count > 0 && n >= e.opts.count {
			return last
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// watchFrame reads the keys' usages and limits and renders them as a table.
func watchFrame(ctx context.Context, e *env, keys []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", time.Now().UTC().Format(time.RFC3339))
	usages, err := readNumbers(ctx, e.cache, keys)
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String(), err
	}
	limitKeys := make([]string, len(keys))
	for i, key := range keys {
		limitKeys[i] = andromeda.LimitKey(key)
	}
	limits, err := readNumbers(ctx, e.cache, limitKeys)
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String(), err
	}
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "KEY\tUSAGE\tLIMIT\tUSED\n")
	var bad error
	for i, key := range keys {
		u, l := usages[i], limits[i]
		bad = firstError(bad, firstError(u.err, l.err))
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", key, u, l, usedBar(u, l))
	}
	w.Flush()
	return b.String(), bad
}

// number is a usage or limit read for watch.
type number struct {
	value int64
	found bool
	err   error // the key holds what andromeda did not write
}

func (n number) String() string {
	switch {
	case n.err != nil:
		return "invalid"
	case !n.found:
		return "-"
	}
	return fmt.Sprint(n.value)
}

// readNumbers reads keys in one call, or, when one holds what andromeda did not write,
// each alone so that the others are still shown.
func readNumbers(ctx context.Context, cache andromeda.Cache, keys []string) ([]number, error) {
	values, found, err := readUsages(ctx, cache, keys)
	out := make([]number, len(keys))
	if err == nil {
		for i := range keys {
			out[i] = number{value: values[i], found: found[i]}
		}
		return out, nil
	}
	if !errors.Is(err, andromeda.ErrInvalidCachedUsage) {
		return nil, err
	}
	for i, key := range keys {
		v, ok, err := readUsages(ctx, cache, []string{key})
		if err != nil && !errors.Is(err, andromeda.ErrInvalidCachedUsage) {
			return nil, err
		}
		if err == nil {
			out[i] = number{value: v[0], found: ok[0]}
		} else {
			out[i] = number{err: err}
		}
	}
	return out, nil
}

// usedBar draws the share of the limit in use, or says why it cannot.
func usedBar(usage, limit number) string {
	switch {
	case usage.err != nil:
		return usage.err.Error()
	case limit.err != nil:
		return limit.err.Error()
	case !usage.found:
		return "usage not in Redis"
	case !limit.found:
		return "limit not kept in Redis"
	case limit.value == 0:
		return "limit 0"
	}
	share := float64(usage.value) / float64(limit.value)
	cells := min(int(share*barWidth+0.5), barWidth)
	return fmt.Sprintf("[%s%s] %5.1f%%", strings.Repeat("#", cells), strings.Repeat(".", barWidth-cells), 100*share)
}

// isTerminal reports whether w is a character device, where clearing the screen helps.
// The mode bit spares the root module golang.org/x/term, which its go.mod (the library's)
// does not list: every user of the library would otherwise get it in their module graph.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// readUsages reads the numbers at keys through the library's strict reads, so that a
// value andromeda did not write is reported, never shown as a usage.
func readUsages(ctx context.Context, cache andromeda.Cache, keys []string) ([]int64, []bool, error) {
	quotas := make([]*andromeda.QuotaRequest, len(keys))
	for i, key := range keys {
		quotas[i] = &andromeda.QuotaRequest{QuotaID: key}
	}
	keyIsID := andromeda.GetQuotaKeyFunc(func(_ context.Context, q *andromeda.QuotaRequest) (string, error) {
		return q.QuotaID, nil
	})
	read, err := andromeda.ReadCachedUsages(ctx, cache, keyIsID, quotas)
	if err != nil {
		return nil, nil, err
	}
	values, found := make([]int64, len(read)), make([]bool, len(read))
	for i, u := range read {
		values[i], found[i] = u.Usage+u.Held, u.Found // what Redis counts: holds included
	}
	return values, found, nil
}
