// Package scripts holds the Lua scripts that change quota usage atomically in Redis,
// and the parsing of their replies, shared by every client adapter.
package scripts

import (
	_ "embed"
	"fmt"
	"time"
)

// Add is the atomic check-and-add script (see add.lua).
//
//go:embed add.lua
var Add string

// AddBatch decides many adds to one key in one call, in order (see add_batch.lua).
//
//go:embed add_batch.lua
var AddBatch string

// Reduce is the atomic check-and-subtract script (see reduce.lua).
//
//go:embed reduce.lua
var Reduce string

// Unlock releases a lock taken with SET NX only if it still holds the holder's token
// (see unlock.lua).
//
//go:embed unlock.lua
var Unlock string

// Status codes the scripts reply with.
const (
	Applied       = 0
	Missing       = 1
	LimitExceeded = 2
	BelowZero     = 3
	NotInteger    = 9
)

// Reply is a parsed script reply.
type Reply struct {
	Status int64
	Usage  int64
	// Raw is the stored value when Status is NotInteger.
	Raw string
}

// ParseBatch reads the flattened {status, usage} pairs that AddBatch returns, one Reply
// per request; when the stored value is not an integer it returns a single Reply with
// Status NotInteger.
func ParseBatch(reply interface{}) ([]Reply, error) {
	fields, ok := reply.([]interface{})
	if !ok || len(fields)%2 != 0 {
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	replies := make([]Reply, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		r, err := Parse(fields[i : i+2])
		if err != nil {
			return nil, err
		}
		replies = append(replies, r)
	}
	return replies, nil
}

// Parse reads the {status, usage} array that Add and Reduce return.
func Parse(reply interface{}) (Reply, error) {
	fields, ok := reply.([]interface{})
	if !ok || len(fields) != 2 {
		return Reply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, ok := fields[0].(int64)
	if !ok {
		return Reply{}, fmt.Errorf("unexpected script status %v", fields[0])
	}
	if status == NotInteger {
		raw, _ := fields[1].(string)
		return Reply{Status: status, Raw: raw}, nil
	}
	usage, ok := fields[1].(int64)
	if !ok {
		return Reply{}, fmt.Errorf("unexpected script usage %v", fields[1])
	}
	return Reply{Status: status, Usage: usage}, nil
}

// Milliseconds converts an expiration for the scripts, rounding up so that a positive
// expiration never becomes 0, which means none.
func Milliseconds(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
