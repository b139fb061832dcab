// Package scripts holds the Lua scripts that change quota usage atomically in Redis,
// and the parsing of their replies, shared by every client adapter.
package scripts

import (
	_ "embed"
	"fmt"
	"time"
)

// exact is the Lua the usage scripts share, put before each of them: MAX, and reading a
// stored usage or limit that must be a whole number from 0 to 2^53 (see exact.lua).
//
//go:embed exact.lua
var exact string

// holdsRelease is the Lua that releases expired holds (see holds_release.lua): hold.lua
// uses it, and every plain usage script runs it first, through releaseHolds.
//
//go:embed holds_release.lua
var holdsRelease string

// releaseHolds goes before a plain usage script whose last KEY is the hold buckets of its
// usage (KEYS[1]): it releases the holds that expired and takes that KEY off; buckets that
// are not andromeda's are reported as the script reports a foreign usage.
const releaseHolds = "do local bad = releaseExpiredHolds(1) if bad then return bad end end\n"

// releaseMultiHolds goes before a script on several quotas: after their usage keys come
// their hold buckets, in the same order. Foreign buckets are reported as
// {9 or 10, quota index, value or type, buckets key}.
const releaseMultiHolds = "do local bad, i = releaseExpiredHolds(#KEYS / 2) if bad then return {bad[1], i, bad[2], bad[3]} end end\n"

// Add is the atomic check-and-add script (see add.lua).
var Add = exact + holdsRelease + releaseHolds + addSource

//go:embed add.lua
var addSource string

// AddBatch decides many adds to one key in one call, in order (see add_batch.lua).
var AddBatch = exact + holdsRelease + releaseHolds + addBatchSource

//go:embed add_batch.lua
var addBatchSource string

// Reduce is the atomic check-and-subtract script (see reduce.lua).
var Reduce = exact + holdsRelease + releaseHolds + reduceSource

//go:embed reduce.lua
var reduceSource string

// MultiAdd adds to several quotas, all or nothing (see multi_add.lua).
var MultiAdd = exact + holdsRelease + releaseMultiHolds + multiAddSource

//go:embed multi_add.lua
var multiAddSource string

// MultiReduce subtracts from several quotas, all or nothing (see multi_reduce.lua).
var MultiReduce = exact + holdsRelease + releaseMultiHolds + multiReduceSource

//go:embed multi_reduce.lua
var multiReduceSource string

// Hold reserves, commits and cancels holds (see hold.lua).
var Hold = exact + holdsRelease + holdSource

//go:embed hold.lua
var holdSource string

// Forget deletes a usage and the keys derived from it, in one step (see forget.lua).
var Forget = exact + forgetSource

//go:embed forget.lua
var forgetSource string

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
	// NotInteger: a key holds a string that is not a usage (Reply.Raw, Reply.Key).
	NotInteger = 9
	// WrongType: a key is of another type (Reply.Raw names it, Reply.Key).
	WrongType = 10
	// AmountMismatch: a reduce carries the idempotency key of an add of another amount
	// (Reply.Usage is the add's amount, Reply.Key its record).
	AmountMismatch = 11
)

// Invalid reports whether status says a key holds something that is not a usage.
func Invalid(status int64) bool { return status == NotInteger || status == WrongType }

// Idempotency modes of Add and Reduce (their last argument). Numbers, not words: a small
// integer costs the client no allocation.
const (
	RecordNone    = 0
	RecordOutcome = 1 // replay the record if it exists, else record this outcome
	RecordForget  = 2 // undo the change the record is for (see add.lua and reduce.lua)
)

// Reply is a parsed reply of Add or Reduce.
type Reply struct {
	Status int64
	Usage  int64
	Limit  int64 // Add only
	// Replayed is true when the outcome comes from an idempotency record.
	Replayed bool
	// Raw is the stored value when Status is NotInteger, the key's type when WrongType.
	Raw string
	// Key is the key Raw was found at (NotInteger, WrongType), or the add's record
	// (AmountMismatch); it may be empty for replies of scripts that do not name it.
	Key string
}

// Parse reads the {status, usage[, limit[, replayed]]} array that Add, AddBatch and
// Reduce return.
func Parse(reply any) (Reply, error) {
	fields, ok := reply.([]any)
	if !ok || len(fields) < 2 || len(fields) > 4 {
		return Reply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, ok := fields[0].(int64)
	if !ok {
		return Reply{}, fmt.Errorf("unexpected script status %v", fields[0])
	}
	if Invalid(status) {
		r := Reply{Status: status}
		r.Raw, _ = fields[1].(string)
		if len(fields) == 3 {
			r.Key, _ = fields[2].(string)
		}
		return r, nil
	}
	if status == AmountMismatch && len(fields) == 3 {
		amount, _ := fields[1].(int64)
		key, _ := fields[2].(string)
		return Reply{Status: status, Usage: amount, Key: key}, nil
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
// one Reply per request; when a key holds something that is not a usage it returns a
// single Reply with Status NotInteger or WrongType.
func ParseBatch(reply any) ([]Reply, error) {
	fields, ok := reply.([]any)
	if ok && len(fields) >= 2 {
		if status, _ := fields[0].(int64); Invalid(status) {
			r, err := Parse(fields)
			return []Reply{r}, err
		}
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
	Index  int // 0-based: the quota missing, refused or not holding a usage
	Usages []int64
	Raw    string // the value (NotInteger) or the type (WrongType) at the Index's key
	// Key is the key Raw was found at when it is not the Index's usage key (its hold
	// buckets); empty otherwise.
	Key string
}

// ParseMulti reads the {status, i, usages...} array that MultiAdd and MultiReduce return.
func ParseMulti(reply any) (MultiReply, error) {
	fields, ok := reply.([]any)
	if !ok || len(fields) < 2 {
		return MultiReply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, ok1 := fields[0].(int64)
	index, ok2 := fields[1].(int64)
	if !ok1 || !ok2 {
		return MultiReply{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	r := MultiReply{Status: status, Index: int(index) - 1}
	if Invalid(status) && (len(fields) == 3 || len(fields) == 4) {
		r.Raw, _ = fields[2].(string)
		if len(fields) == 4 {
			r.Key, _ = fields[3].(string)
		}
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

// maxUsage is andromeda.MaxAmount (internal imports nothing of ours).
const maxUsage = 1 << 53

// ParseUsage reads a stored usage or limit by the scripts' rule (exact.lua): a whole
// number from 0 to 2^53 written the way INCRBY writes it, so "05", "-0", "+1" and "1.0"
// are not usages, even where strconv would take them.
func ParseUsage(raw string) (int64, bool) {
	if raw == "" || len(raw) > 16 || raw[0] == '0' && raw != "0" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= maxUsage
}
