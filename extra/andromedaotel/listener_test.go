package andromedaotel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/extra/andromedaotel"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
)

// observed is a Listener whose spans and metrics the test can read.
type observed struct {
	listener *andromedaotel.Listener
	metrics  *sdkmetric.ManualReader
	spans    *tracetest.SpanRecorder
	tracer   *sdktrace.TracerProvider
}

func newObserved(t *testing.T) observed {
	o := observed{metrics: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	o.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.metrics))
	t.Cleanup(func() {
		_ = o.tracer.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	var err error
	o.listener, err = andromedaotel.NewListener(andromedaotel.WithTracerProvider(o.tracer), andromedaotel.WithMeterProvider(mp))
	require.NoError(t, err)
	return o
}

// lastSpan returns the span that ended last, and checks that n spans ended in all.
func (o observed) lastSpan(t *testing.T, n int) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := o.spans.Ended()
	require.Len(t, ended, n)
	return ended[n-1]
}

// point finds, in the metric called name, the data point with exactly attrs.
func (o observed) point(t *testing.T, name string, attrs ...attribute.KeyValue) (found any) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, o.metrics.Collect(context.Background(), &rm))
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					if m.Name == name && p.Attributes.Equals(&want) {
						found = p
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					if m.Name == name && p.Attributes.Equals(&want) {
						found = p
					}
				}
			}
		}
	}
	return found
}

// count is the value of an int64 counter at the point with exactly attrs (0 if none).
func (o observed) count(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	p, _ := o.point(t, name, attrs...).(metricdata.DataPoint[int64])
	return p.Value
}

// durations is how many Dos the duration histogram holds for attrs.
func (o observed) durations(t *testing.T, attrs ...attribute.KeyValue) uint64 {
	t.Helper()
	p, _ := o.point(t, andromedaotel.DurationMetric, attrs...).(metricdata.HistogramDataPoint[float64])
	return p.Count
}

func attr(span sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range span.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// An add that loads its usage, a refusal, and an unknown outcome made real by a proxy
// that drops Redis's reply: each is one span with its attributes, and counted.
func TestListenerRecordsSpansAndMetrics(t *testing.T) {
	server := redistest.Standalone(t)
	proxy, err := faultproxy.Start(server.Addr)
	require.NoError(t, err)
	t.Cleanup(proxy.Close)
	client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { client.Close() })
	direct := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { direct.Close() })

	o := newObserved(t)
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
		Cache:         redisv9.New(client),
		GetQuotaLimit: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 10, nil }),
		GetQuotaUsage: andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 3, nil }),
		GetQuotaUsageKey: andromeda.GetQuotaKeyFunc(func(_ context.Context, req *andromeda.QuotaRequest) (string, error) {
			return fmt.Sprintf("voucher:{%s}:usage", req.QuotaID), nil
		}),
		Option: andromeda.AddUsageOption{Listener: o.listener},
	})
	op := andromedaotel.OperationKey.String(andromeda.OpAdd)
	outcome := andromedaotel.OutcomeKey.String
	errorType := andromedaotel.ErrorTypeKey.String

	// A cold add: the usage is loaded, then the add is applied, in the caller's trace.
	parentCtx, parent := o.tracer.Tracer("test").Start(context.Background(), "claim")
	usage, err := add.Do(parentCtx, &andromeda.QuotaUsageRequest{QuotaID: "v1", Usage: 2})
	parent.End()
	require.NoError(t, err)
	require.Equal(t, int64(5), usage)
	span := o.spans.Ended()[0]
	assert.Equal(t, "andromeda add", span.Name())
	assert.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID(), "a child of the caller's span")
	assert.Equal(t, "v1", attr(span, andromedaotel.QuotaIDKey).AsString())
	assert.Equal(t, "voucher:{v1}:usage", attr(span, andromedaotel.QuotaKeyKey).AsString())
	assert.Equal(t, int64(2), attr(span, andromedaotel.AmountKey).AsInt64())
	assert.Equal(t, int64(5), attr(span, andromedaotel.UsageKey).AsInt64())
	assert.Equal(t, int64(10), attr(span, andromedaotel.LimitKey).AsInt64())
	assert.Equal(t, "ok", attr(span, andromedaotel.OutcomeKey).AsString())
	assert.Equal(t, int64(1), attr(span, "andromeda.loads").AsInt64())
	assert.Equal(t, codes.Unset, span.Status().Code)
	assert.Equal(t, int64(1), o.count(t, andromedaotel.ChangesMetric, op, outcome("ok")))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.LoadsMetric, op))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.MissingKeysMetric, op))
	assert.Equal(t, uint64(1), o.durations(t, op, outcome("ok")))

	// A refusal: the Do did its job, so the span's status stays unset.
	_, err = add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "v1", Usage: 6})
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	span = o.lastSpan(t, 3)
	assert.Equal(t, "refused", attr(span, andromedaotel.OutcomeKey).AsString())
	assert.Equal(t, "quota_limit_exceeded", attr(span, andromedaotel.ErrorTypeKey).AsString())
	assert.Equal(t, int64(5), attr(span, andromedaotel.UsageKey).AsInt64(), "the usage found")
	assert.Equal(t, codes.Unset, span.Status().Code)
	assert.Equal(t, int64(1), o.count(t, andromedaotel.ChangesMetric, op, outcome("refused")))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.RefusalsMetric, op, errorType("quota_limit_exceeded")))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.LoadsMetric, op), "warm: no second load")

	// An unknown outcome: Redis runs the add, its reply is lost on the way back.
	proxy.DropReplies(true)
	_, err = add.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "v1", Usage: 1})
	proxy.DropReplies(false)
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	span = o.lastSpan(t, 4)
	assert.Equal(t, "unknown", attr(span, andromedaotel.OutcomeKey).AsString())
	assert.Equal(t, "unknown_outcome", attr(span, andromedaotel.ErrorTypeKey).AsString())
	assert.Equal(t, codes.Error, span.Status().Code)
	require.NotEmpty(t, span.Events(), "the error is recorded on the span")
	assert.Equal(t, "exception", span.Events()[0].Name)
	assert.Equal(t, int64(1), o.count(t, andromedaotel.ChangesMetric, op, outcome("unknown")))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.ErrorsMetric, op, errorType("unknown_outcome")))
	assert.Equal(t, int64(1), o.count(t, andromedaotel.UnknownOutcomesMetric, op))
	got, err := direct.Get(context.Background(), "voucher:{v1}:usage").Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(6), got, "the add whose reply was lost was in fact applied")
	assert.Equal(t, uint64(3), o.durations(t, op, outcome("ok"))+o.durations(t, op, outcome("refused"))+o.durations(t, op, outcome("unknown")))
}

// Next's Do is a child span of the Do that runs it, and a Do whose Next fails records
// Next's cause.
func TestListenerNestsNext(t *testing.T) {
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	t.Cleanup(func() { client.Close() })
	o := newObserved(t)
	cache := redisv9.New(client)
	limit := func(n int64) andromeda.GetQuota {
		return andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return n, nil })
	}
	key := func(k string) andromeda.GetQuotaKey {
		return andromeda.GetQuotaKeyFunc(func(context.Context, *andromeda.QuotaRequest) (string, error) { return k, nil })
	}
	perUser := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit(1), GetQuotaUsageKey: key("user"),
		Option: andromeda.AddUsageOption{Listener: o.listener}})
	total := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: limit(10), GetQuotaUsageKey: key("total"),
		Next: perUser, Option: andromeda.AddUsageOption{Listener: o.listener}})

	_, err := total.Do(context.Background(), &andromeda.QuotaUsageRequest{QuotaID: "v1", Usage: 2})
	require.ErrorIs(t, err, andromeda.ErrQuotaLimitExceeded)
	ended := o.spans.Ended()
	require.Len(t, ended, 2)
	inner, outer := ended[0], ended[1]
	assert.Equal(t, outer.SpanContext().SpanID(), inner.Parent().SpanID())
	assert.Equal(t, "user", attr(inner, andromedaotel.QuotaKeyKey).AsString())
	assert.Equal(t, "total", attr(outer, andromedaotel.QuotaKeyKey).AsString())
	assert.Equal(t, "refused", attr(outer, andromedaotel.OutcomeKey).AsString())
	op := andromedaotel.OperationKey.String(andromeda.OpAdd)
	assert.Equal(t, int64(2), o.count(t, andromedaotel.RefusalsMetric, op, andromedaotel.ErrorTypeKey.String("quota_limit_exceeded")))
}
