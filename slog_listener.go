package andromeda

import (
	"context"
	"log/slog"
)

// SlogListener is a listener (Option.Listener) that logs each Do as one log/slog record,
// "andromeda <op>", with the quota, key, amount, usage, outcome, cause, duration and the
// counts of what happened inside the Do. The zero value logs to slog.Default.
type SlogListener struct {
	// Logger receives the records; nil means slog.Default().
	Logger *slog.Logger
	// Level chooses each record's level; nil means SlogLevel.
	Level func(ev Event) slog.Level
}

// SlogLevel is SlogListener's default level: Debug for a change made, Info for a
// refusal, Warn for an unknown outcome and Error for any other error.
func SlogLevel(ev Event) slog.Level {
	switch ev.Outcome() {
	case "ok":
		return slog.LevelDebug
	case "refused":
		return slog.LevelInfo
	case "unknown":
		return slog.LevelWarn
	}
	return slog.LevelError
}

// OnDone logs ev.
func (l SlogListener) OnDone(ctx context.Context, ev Event) {
	logger := l.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := SlogLevel
	if l.Level != nil {
		level = l.Level
	}
	lv := level(ev)
	if !logger.Enabled(ctx, lv) {
		return
	}
	msg := "andromeda"
	if ev.Op != "" {
		msg += " " + ev.Op
	}
	logger.LogAttrs(ctx, lv, msg, slogAttrs(ev)...)
}

// OnSuccess logs a success reported without an Event (by a caller other than Do).
func (l SlogListener) OnSuccess(ctx context.Context, req *QuotaUsageRequest, updatedUsage int64) {
	l.OnDone(ctx, EventOf(req, updatedUsage, nil))
}

// OnError logs an error reported without an Event (by a caller other than Do).
func (l SlogListener) OnError(ctx context.Context, req *QuotaUsageRequest, err error) {
	l.OnDone(ctx, EventOf(req, 0, err))
}

// slogAttrs lists ev's attributes; counts and optional values only when they say something.
func slogAttrs(ev Event) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("quota", ev.QuotaID),
		slog.String("key", ev.Key),
		slog.Int64("amount", ev.Amount),
		slog.Int64("usage", ev.Usage),
		slog.String("outcome", ev.Outcome()),
		slog.Duration("duration", ev.Duration),
	}
	if ev.Limit != 0 {
		attrs = append(attrs, slog.Int64("limit", ev.Limit))
	}
	if ev.Replayed {
		attrs = append(attrs, slog.Bool("replayed", true))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("cause", ev.Cause()), slog.String("error", ev.Err.Error()))
	}
	for _, c := range []struct {
		name string
		n    int
	}{
		{"loads", ev.Loads}, {"missing_keys", ev.MissingKeys}, {"lock_waits", ev.LockWaits},
		{"unknown_outcomes", ev.UnknownOutcomes}, {"not_run_retries", ev.NotRunRetries},
	} {
		if c.n != 0 {
			attrs = append(attrs, slog.Int(c.name, c.n))
		}
	}
	return attrs
}
