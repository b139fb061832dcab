package scripts

import _ "embed"

// Add is the atomic check-and-add script (see add.lua).
var Add = exact + holdsRelease + addSource // it releases expired holds itself

//go:embed add.lua
var addSource string

// AddInput is one add (see add.lua for what each field means to the script).
type AddInput struct {
	Key, LimitKey string // LimitKey: empty for none, then Limit is the limit
	// RecordKey, AddRecordKey: the idempotency record and, with Mode RecordForget, the
	// add's record with the same key (empty or equal to RecordKey for none).
	RecordKey, AddRecordKey string
	HoldBuckets             string // the usage's hold buckets, which the script sweeps first
	Amount, Limit           int64
	Absent                  int64 // see AbsentArg
	Retention               int64 // ms the record is kept; 0 without a record
	Mode                    int64 // RecordNone, RecordOutcome or RecordForget
	Attempt                 string
}

// addCall holds one call's keys and arguments in a single allocation.
type addCall struct {
	keys [5]string
	args [7]any
}

// Build returns Add's KEYS and ARGV for in.
func (in *AddInput) Build() (keys []string, args []any) {
	c := new(addCall)
	keys = append(c.keys[:0], in.Key)
	hasLimitKey := 0
	if in.LimitKey != "" {
		keys, hasLimitKey = append(keys, in.LimitKey), 1
	}
	keys = withRecord(keys, in.RecordKey, in.AddRecordKey)
	keys = append(keys, in.HoldBuckets)
	args = append(c.args[:0], in.Amount, in.Limit, in.Absent, hasLimitKey, in.Retention, in.Mode, in.Attempt)
	return keys, args
}
