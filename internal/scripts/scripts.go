// Package scripts holds the Lua scripts that change quota usage atomically in Redis,
// and the parsing of their replies, shared by every client adapter.
package scripts

import (
	_ "embed"
	"fmt"
	"time"
)

// Each script's Go side (its arguments, its reply) is in the Go file named after it;
// this file holds what they share: the Lua put before them, the status codes, and the
// reading of usages.

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
	// AmountMismatch: an add, a reserve or a reduce carries the idempotency key (hold ID) of
	// an add or reserve of another amount
	// (Reply.Usage is the add's amount, Reply.Key its record).
	AmountMismatch = 11
)

// Invalid reports whether status says a key holds something that is not a usage.
func Invalid(status int64) bool { return status == NotInteger || status == WrongType }

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

// AbsentArg is the scripts' argument for what to do with an absent usage: -1 reports it
// missing; 0 or more (createMS, an expiration in ms, 0 for none) starts it at zero.
func AbsentArg(create bool, createMS int64) int64 {
	if !create {
		return -1
	}
	return createMS
}

// Milliseconds converts an expiration for the scripts, rounding up so that a positive
// expiration never becomes 0, which means none. Rounded without adding first: d + 999999
// overflows for durations near time.Duration(math.MaxInt64), a common "forever", and a
// negative retention means no idempotency record at all.
func Milliseconds(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond > 0 {
		ms++
	}
	return ms
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
