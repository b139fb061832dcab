// Package andromedaotel instruments andromeda with OpenTelemetry: a span for each Do,
// with the quota, key, amount and outcome as attributes, and metrics for the changes by
// operation and outcome, refusals, errors by cause, loads, lock waits, keys found
// missing, unknown outcomes and latency.
//
// It is a listener: give it to a step's Option.Listener (with andromeda.Listeners to keep
// your own), and every Do of that step is traced and counted.
//
//	otelListener, err := andromedaotel.NewListener()
//	if err != nil { ... }
//	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{
//		...,
//		Option: andromeda.AddUsageOption{Listener: otelListener},
//	})
//
// The span starts when Do starts (andromeda.StartListener), as a child of the span in
// the caller's context, and Do runs with it in its context: spans of a Redis client
// instrumented with redisotel, and of Next's Do, nest under it.
package andromedaotel
