package andromedaotel

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ramadani/andromeda"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/ramadani/andromeda/extra/andromedaotel"

// Attribute keys on spans and metrics.
const (
	OperationKey = attribute.Key("andromeda.operation") // add, reduce, multi add, reserve...
	OutcomeKey   = attribute.Key("andromeda.outcome")   // ok, refused, unknown or error
	ErrorTypeKey = attribute.Key("error.type")          // the sentinel's name (andromeda.Event.Cause)
	QuotaIDKey   = attribute.Key("andromeda.quota.id")  // spans only: too many values for metrics
	QuotaKeyKey  = attribute.Key("andromeda.quota.key") // spans only
	AmountKey    = attribute.Key("andromeda.amount")
	UsageKey     = attribute.Key("andromeda.usage")
	LimitKey     = attribute.Key("andromeda.limit")
	ReplayedKey  = attribute.Key("andromeda.replayed")
)

// Listener traces and counts each Do of the steps it listens to. It is an
// andromeda.UpdateQuotaUsageListener, an andromeda.StartListener and an
// andromeda.EventListener; it is safe for concurrent use.
type Listener struct {
	tracer trace.Tracer
	m      instruments
}

// Option configures NewListener.
type Option func(*config)

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

// WithTracerProvider sets where spans go; the default is otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets where metrics go; the default is otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// NewListener returns a Listener that sends spans and metrics to the global providers,
// or to those the options name; it fails only if an instrument cannot be created.
func NewListener(opts ...Option) (*Listener, error) {
	c := config{tracerProvider: otel.GetTracerProvider(), meterProvider: otel.GetMeterProvider()}
	for _, opt := range opts {
		opt(&c)
	}
	m, err := newInstruments(c.meterProvider.Meter(ScopeName))
	if err != nil {
		return nil, err
	}
	return &Listener{tracer: c.tracerProvider.Tracer(ScopeName), m: m}, nil
}

// spanKey marks the span this package started for a Do, so that OnDone ends that span
// and never one of the caller's.
type spanKey struct{}

// OnStart starts the Do's span, "andromeda <op>", and returns ctx with it.
func (l *Listener) OnStart(ctx context.Context, op string, req *andromeda.QuotaUsageRequest) context.Context {
	attrs := []attribute.KeyValue{OperationKey.String(op)}
	if req != nil {
		attrs = append(attrs, QuotaIDKey.String(req.QuotaID), AmountKey.Int64(req.Usage))
	}
	ctx, span := l.tracer.Start(ctx, "andromeda "+op, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, spanKey{}, span)
}

// OnDone records ev in the metrics and ends the span OnStart began, if any: a refusal
// leaves the span's status unset (the Do did its job), an error or unknown outcome sets
// it to Error.
func (l *Listener) OnDone(ctx context.Context, ev andromeda.Event) {
	l.m.record(ctx, ev)
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	span.SetAttributes(spanAttributes(ev)...)
	if outcome := ev.Outcome(); outcome == "error" || outcome == "unknown" {
		span.RecordError(ev.Err)
		span.SetStatus(codes.Error, ev.Cause())
	}
	span.End()
}

// OnSuccess records a success reported without an Event (by a caller other than Do).
func (l *Listener) OnSuccess(ctx context.Context, req *andromeda.QuotaUsageRequest, usage int64) {
	l.OnDone(ctx, andromeda.EventOf(req, usage, nil))
}

// OnError records an error reported without an Event (by a caller other than Do).
func (l *Listener) OnError(ctx context.Context, req *andromeda.QuotaUsageRequest, err error) {
	l.OnDone(ctx, andromeda.EventOf(req, 0, err))
}

// spanAttributes is what the end of a Do adds to its span.
func spanAttributes(ev andromeda.Event) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		OutcomeKey.String(ev.Outcome()),
		QuotaKeyKey.String(ev.Key),
		UsageKey.Int64(ev.Usage),
		attribute.Int("andromeda.loads", ev.Loads),
		attribute.Int("andromeda.missing_keys", ev.MissingKeys),
		attribute.Int("andromeda.lock_waits", ev.LockWaits),
		attribute.Int("andromeda.unknown_outcomes", ev.UnknownOutcomes),
		attribute.Int("andromeda.not_run_retries", ev.NotRunRetries),
	}
	if ev.Limit != 0 {
		attrs = append(attrs, LimitKey.Int64(ev.Limit))
	}
	if ev.Replayed {
		attrs = append(attrs, ReplayedKey.Bool(true))
	}
	if ev.Err != nil {
		attrs = append(attrs, ErrorTypeKey.String(ev.Cause()))
	}
	return attrs
}
