package andromeda

import "context"

// UpdateQuotaUsageListener is told how each Do ended: exactly one call per Do, OnSuccess
// with the usage after the change or OnError with the error Do returns. It runs on the
// caller's goroutine before Do returns, so keep it quick.
type UpdateQuotaUsageListener interface {
	OnSuccess(ctx context.Context, req *QuotaUsageRequest, updatedUsage int64)
	OnError(ctx context.Context, req *QuotaUsageRequest, err error)
}

// ListenerFuncs adapts a pair of functions to UpdateQuotaUsageListener; either may be nil.
type ListenerFuncs struct {
	Success func(ctx context.Context, req *QuotaUsageRequest, updatedUsage int64)
	Error   func(ctx context.Context, req *QuotaUsageRequest, err error)
}

// OnSuccess calls l.Success if set.
func (l ListenerFuncs) OnSuccess(ctx context.Context, req *QuotaUsageRequest, updatedUsage int64) {
	if l.Success != nil {
		l.Success(ctx, req, updatedUsage)
	}
}

// OnError calls l.Error if set.
func (l ListenerFuncs) OnError(ctx context.Context, req *QuotaUsageRequest, err error) {
	if l.Error != nil {
		l.Error(ctx, req, err)
	}
}

// Listeners fans each call out to every listener, in order; nil listeners (and nil
// pointers) are skipped, so that Do never calls one. Each listener gets what it asks
// for: an EventListener OnDone, the others OnSuccess or OnError; StartListeners' OnStart
// run in order, each given the context the one before returned.
func Listeners(listeners ...UpdateQuotaUsageListener) UpdateQuotaUsageListener {
	kept := make(fanOut, 0, len(listeners))
	observing := false
	for _, l := range listeners {
		if l != nil && !holdsNil(l) {
			kept = append(kept, l)
			_, wantsEvent := l.(EventListener)
			_, wantsStart := l.(StartListener)
			observing = observing || wantsEvent || wantsStart
		}
	}
	if observing {
		return observingFanOut{kept}
	}
	return kept
}

type fanOut []UpdateQuotaUsageListener

func (f fanOut) OnSuccess(ctx context.Context, req *QuotaUsageRequest, updatedUsage int64) {
	for _, l := range f {
		l.OnSuccess(ctx, req, updatedUsage)
	}
}

func (f fanOut) OnError(ctx context.Context, req *QuotaUsageRequest, err error) {
	for _, l := range f {
		l.OnError(ctx, req, err)
	}
}

// observingFanOut is a fanOut with a listener that wants events or starts: only then
// does a Do gather its Event.
type observingFanOut struct{ fanOut }

func (f observingFanOut) OnStart(ctx context.Context, op string, req *QuotaUsageRequest) context.Context {
	for _, l := range f.fanOut {
		if s, ok := l.(StartListener); ok {
			if started := s.OnStart(ctx, op, req); started != nil {
				ctx = started
			}
		}
	}
	return ctx
}

func (f observingFanOut) OnDone(ctx context.Context, ev Event) {
	for _, l := range f.fanOut {
		if el, ok := l.(EventListener); ok {
			el.OnDone(ctx, ev)
		} else {
			notify(ctx, l, ev.Request, ev.Usage, ev.Err)
		}
	}
}

// notify tells the listener, if any, how a Do ended.
func notify(ctx context.Context, l UpdateQuotaUsageListener, req *QuotaUsageRequest, usage int64, err error) {
	switch {
	case l == nil:
	case err != nil:
		l.OnError(ctx, req, err)
	default:
		l.OnSuccess(ctx, req, usage)
	}
}
