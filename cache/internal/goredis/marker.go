// Package goredis holds what the go-redis adapters (cache/redisv9, cache/redisv8) share:
// the Marker that tells whether a command was written and the outcome of a script
// command (their WaitForReplicas setting is cache/internal/replicawait).
package goredis

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ramadani/andromeda"
)

// A change script must reach Redis at most once per attempt the library decides on: a
// client that resends it after the connection broke may apply it twice. The adapters
// therefore run scripts so that their client never resends one that may have been
// written (go-redis v9: a command whose NoRetry is true; go-redis v8: a connection that
// cannot reconnect), and report whether the request was written at all
// (andromeda.ErrNotSent), so that the library can tell "not run, safe to send again"
// from "may have run".

// NotSent wraps err with andromeda.ErrNotSent.
func NotSent(err error) error { return fmt.Errorf("%w: %w", andromeda.ErrNotSent, err) }

// Marker is a command argument that records whether the client serialised it for the
// wire: go-redis writes an encoding.BinaryMarshaler argument by calling MarshalBinary,
// and nothing else does. Before that call the command has not been sent; after it, it
// may have been. Use a new Marker for every attempt.
type Marker struct {
	value   []byte // read only: go-redis copies it to the wire
	written atomic.Bool
}

// NewMarker returns a Marker that is written as value.
func NewMarker(value string) *Marker { return &Marker{value: []byte(value)} }

// Set makes m, the zero Marker, one that is written as value, which the client only
// reads: a Marker kept inside a larger per-call allocation costs none of its own.
func (m *Marker) Set(value []byte) { m.value = value }

// MarshalBinary returns the value and records that the command is being written.
func (m *Marker) MarshalBinary() ([]byte, error) {
	m.written.Store(true)
	return m.value, nil
}

// String returns the value, for logs and hooks that print commands.
func (m *Marker) String() string { return string(m.value) }

// Written reports whether the command carrying m may have been sent.
func (m *Marker) Written() bool { return m.written.Load() }

// ScriptText is a script's SHA1 and source as bytes, made once per script, for the
// Markers that carry them.
type ScriptText struct{ SHA, Source []byte }

var scriptTexts sync.Map // *andromeda.Script -> *ScriptText

// TextOf returns s's SHA1 and source as bytes, the same slices for every call.
func TextOf(s *andromeda.Script) *ScriptText {
	if t, ok := scriptTexts.Load(s); ok {
		return t.(*ScriptText)
	}
	t, _ := scriptTexts.LoadOrStore(s, &ScriptText{SHA: []byte(s.SHA1()), Source: []byte(s.Source())})
	return t.(*ScriptText)
}
