package scriptcache

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
)

// A change script must reach Redis at most once per attempt the library decides on: a
// client that resends it after the connection broke may apply it twice. The adapters
// therefore run change scripts so that their client never resends one that may have been
// written (go-redis v9: a command whose NoRetry is true; go-redis v8: a connection that
// cannot reconnect), and report whether the request was written at all, so that this
// package can tell "not run, safe to send again" from "may have run".

// ErrNotSent marks an error from Client.Run after which the request was certainly not
// written to any connection (the dial failed, the pool timed out, the handshake of a new
// connection failed): Redis cannot have run it.
var ErrNotSent = errors.New("request not sent")

// NotSent wraps err with ErrNotSent.
func NotSent(err error) error { return fmt.Errorf("%w: %w", ErrNotSent, err) }

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

// SHA1 returns the hex SHA1 of a script's source, the name EVALSHA runs it by.
func SHA1(source string) string {
	sum := sha1.Sum([]byte(source))
	return hex.EncodeToString(sum[:])
}
