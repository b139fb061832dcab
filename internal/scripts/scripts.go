// Package scripts holds the Lua scripts that change quota usage atomically in Redis,
// and the parsing of their replies, shared by every client adapter.
package scripts

import (
	_ "embed"
	"fmt"
	"time"
)

// exact is the Lua helper the usage scripts share, put before each of them: whether a
// stored value is a whole number that Lua's doubles hold exactly (see exact.lua).
//
//go:embed exact.lua
var exact string

// Add is the atomic check-and-add script (see add.lua).
var Add = exact + addSource

//go:embed add.lua
var addSource string

// AddBatch decides many adds to one key in one call, in order (see add_batch.lua).
var AddBatch = exact + addBatchSource

//go:embed add_batch.lua
var addBatchSource string

// Reduce is the atomic check-and-subtract script (see reduce.lua).
var Reduce = exact + reduceSource

//go:embed reduce.lua
var reduceSource string

// MultiAdd adds to several quotas, all or nothing (see multi_add.lua).
var MultiAdd = exact + multiAddSource

//go:embed multi_add.lua
var multiAddSource string

// MultiReduce subtracts from several quotas, all or nothing (see multi_reduce.lua).
var MultiReduce = exact + multiReduceSource

//go:embed multi_reduce.lua
var multiReduceSource string

// Hold reserves, commits and cancels holds (see hold.lua).
var Hold = exact + holdSource

//go:embed hold.lua
var holdSource string

// Unlock releases a lock taken with SET NX only if it still holds the holder's token
// (see unlock.lua).
//
//go:embed unlock.lua
var Unlock string

// FencedLoad sets a loaded value if absent, only while the loader's lock still holds its
// token, and deletes the keys derived from the old value (see fenced_load.lua).
//
//go:embed fenced_load.lua
var FencedLoad string

// Replies of FencedLoad.
const (
	FencedSet     = 1  // the value was set
	FencedPresent = 0  // the key was present: nothing written
	FencedLost    = -1 // the lock is no longer held: nothing written
)

// Status codes the scripts reply with.
const (
	Applied       = 0
	Missing       = 1
	LimitExceeded = 2
	BelowZero     = 3
	LimitMissing  = 4
	HoldExpired   = 5
	HoldCancelled = 6
	HoldNotFound  = 7
	HoldCommitted = 8
	NotInteger    = 9
)

// Idempotency modes of Add and Reduce (their last argument). Numbers, not words: a small
// integer costs the client no allocation.
const (
	RecordNone    = 0
	RecordOutcome = 1 // replay the record if it exists, else record this outcome
	RecordForget  = 2 // undo the change the record is for, and delete the record
)

// Reply is a parsed reply of Add or Reduce.
type Reply struct {
	Status int64
	Usage  int64
	Limit  int64 // Add only
	// Replayed is true when the outcome comes from an idempotency record.
	Replayed bool
	// Raw is the stored value when Status is NotInteger.
	Raw string
}

// Parse reads the {status, usage[, limit[, replayed]]} array that Add, AddBatch and
// Reduce return.
func Parse(reply interface{}) (Reply, error) {
	fields, ok := reply.([]interface{})
	if !ok || len(fields) < 2 || len(fields) > 4 {
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
		return Reply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	r := Reply{Status: status, Usage: usage}
	if len(fields) >= 3 {
		if r.Limit, ok = fields[2].(int64); !ok {
			return Reply{}, fmt.Errorf("unexpected script reply %v", reply)
		}
	}
	if len(fields) == 4 {
		replayed, ok := fields[3].(int64)
		if !ok {
			return Reply{}, fmt.Errorf("unexpected script reply %v", reply)
		}
		r.Replayed = replayed == 1
	}
	return r, nil
}

// ParseBatch reads the flattened {status, usage, limit} triples that AddBatch returns,
// one Reply per request; when a stored value is not an integer it returns a single Reply
// with Status NotInteger.
func ParseBatch(reply interface{}) ([]Reply, error) {
	fields, ok := reply.([]interface{})
	if ok && len(fields) == 2 {
		r, err := Parse(fields)
		return []Reply{r}, err
	}
	if !ok || len(fields)%3 != 0 {
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	replies := make([]Reply, 0, len(fields)/3)
	for i := 0; i < len(fields); i += 3 {
		r, err := Parse(fields[i : i+3])
		if err != nil {
			return nil, err
		}
		replies = append(replies, r)
	}
	return replies, nil
}

// MultiReply is a parsed reply of MultiAdd or MultiReduce.
type MultiReply struct {
	Status int64
	Index  int // 0-based: the quota missing, refused or not an integer
	Usages []int64
	Raw    string
}

// ParseMulti reads the {status, i, usages...} array that MultiAdd and MultiReduce return.
func ParseMulti(reply interface{}) (MultiReply, error) {
	fields, ok := reply.([]interface{})
	if !ok || len(fields) < 2 {
		return MultiReply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, ok1 := fields[0].(int64)
	index, ok2 := fields[1].(int64)
	if !ok1 || !ok2 {
		return MultiReply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	r := MultiReply{Status: status, Index: int(index) - 1}
	if status == NotInteger {
		r.Raw, _ = fields[2].(string)
		return r, nil
	}
	if status == Applied {
		r.Index = -1
	}
	for _, f := range fields[2:] {
		usage, ok := f.(int64)
		if !ok {
			return MultiReply{}, fmt.Errorf("unexpected script reply %v", reply)
		}
		r.Usages = append(r.Usages, usage)
	}
	return r, nil
}

// Milliseconds converts an expiration for the scripts, rounding up so that a positive
// expiration never becomes 0, which means none.
func Milliseconds(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
