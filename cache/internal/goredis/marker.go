// Package goredis holds what the go-redis adapters (cache/redisv9, cache/redisv8) share:
// the Marker that tells whether a command was written, the outcome of a script command,
// and the WaitForReplicas setting.
package goredis

import (
	"fmt"
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
// may have been. Make a new Marker for every attempt.
type Marker struct {
	value   string
	written atomic.Bool
}

// NewMarker returns a Marker that is written as value.
func NewMarker(value string) *Marker { return &Marker{value: value} }

// MarshalBinary returns the value and records that the command is being written.
func (m *Marker) MarshalBinary() ([]byte, error) {
	m.written.Store(true)
	return []byte(m.value), nil
}

// String returns the value, for logs and hooks that print commands.
func (m *Marker) String() string { return m.value }

// Written reports whether the command carrying m may have been sent.
func (m *Marker) Written() bool { return m.written.Load() }
