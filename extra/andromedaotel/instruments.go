package andromedaotel

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ramadani/andromeda"
)

// Metric names. Every metric has the andromeda.operation attribute; changes and duration
// also andromeda.outcome, refusals and errors also error.type.
const (
	ChangesMetric         = "andromeda.changes"          // Dos, by operation and outcome
	RefusalsMetric        = "andromeda.refusals"         // Dos refused (over the limit, below zero)
	ErrorsMetric          = "andromeda.errors"           // Dos failed or unknown, by cause
	LoadsMetric           = "andromeda.loads"            // values read from GetQuotaUsage / GetQuotaLimit
	MissingKeysMetric     = "andromeda.missing_keys"     // times a change found its key missing
	LockWaitsMetric       = "andromeda.lock_waits"       // waits for another process's load
	UnknownOutcomesMetric = "andromeda.unknown_outcomes" // sends that got no answer
	NotRunRetriesMetric   = "andromeda.not_run_retries"  // sends repeated because Redis did not run them
	DurationMetric        = "andromeda.duration"         // seconds per Do, by operation and outcome
)

// durationBuckets suit a change that is one Redis round trip (well under a millisecond
// on a LAN) up to one that waits for a load or a failover (seconds).
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type instruments struct {
	changes, refusals, errors, loads, missing, lockWaits, unknown, notRun metric.Int64Counter
	duration                                                              metric.Float64Histogram
}

func newInstruments(meter metric.Meter) (instruments, error) {
	var m instruments
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	m.changes = counter(ChangesMetric, "{change}", "Quota usage changes (Do calls), by operation and outcome.")
	m.refusals = counter(RefusalsMetric, "{change}", "Changes refused: over the limit, or below zero.")
	m.errors = counter(ErrorsMetric, "{change}", "Changes that failed or whose outcome is unknown, by cause.")
	m.loads = counter(LoadsMetric, "{load}", "Values loaded from the application for a missing key.")
	m.missing = counter(MissingKeysMetric, "{key}", "Times a change found a key missing.")
	m.lockWaits = counter(LockWaitsMetric, "{wait}", "Waits for another process's load of a missing key.")
	m.unknown = counter(UnknownOutcomesMetric, "{send}", "Sends of a change that got no answer.")
	m.notRun = counter(NotRunRetriesMetric, "{send}", "Sends repeated because Redis certainly did not run them.")
	var err error
	m.duration, err = meter.Float64Histogram(DurationMetric, metric.WithUnit("s"),
		metric.WithDescription("How long each change (Do) took."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	errs = append(errs, err)
	return m, errors.Join(errs...)
}

// record counts one Do.
func (m instruments) record(ctx context.Context, ev andromeda.Event) {
	op := OperationKey.String(ev.Op)
	outcome := ev.Outcome()
	byOutcome := metric.WithAttributeSet(attribute.NewSet(op, OutcomeKey.String(outcome)))
	m.changes.Add(ctx, 1, byOutcome)
	m.duration.Record(ctx, ev.Duration.Seconds(), byOutcome)
	switch outcome {
	case "ok":
	case "refused":
		m.refusals.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(op, ErrorTypeKey.String(ev.Cause()))))
	default:
		m.errors.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(op, ErrorTypeKey.String(ev.Cause()))))
	}
	byOp := metric.WithAttributeSet(attribute.NewSet(op))
	for _, c := range []struct {
		counter metric.Int64Counter
		n       int
	}{
		{m.loads, ev.Loads}, {m.missing, ev.MissingKeys}, {m.lockWaits, ev.LockWaits},
		{m.unknown, ev.UnknownOutcomes}, {m.notRun, ev.NotRunRetries},
	} {
		if c.n > 0 {
			c.counter.Add(ctx, int64(c.n), byOp)
		}
	}
}
