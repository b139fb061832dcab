package scripts

import _ "embed"

// Reduce is the atomic check-and-subtract script (see reduce.lua).
var Reduce = exact + holdsRelease + reduceSource // it releases expired holds itself

//go:embed reduce.lua
var reduceSource string

// ReduceInput is one reduce (see reduce.lua for what each field means to the script).
type ReduceInput struct {
	Key string
	// RecordKey, AddRecordKey: the idempotency record, and the record of the add with
	// the same key (empty or equal to RecordKey for none).
	RecordKey, AddRecordKey string
	HoldBuckets             string
	Amount                  int64
	Retention               int64 // ms the record is kept; 0 without a record
	Mode                    int64 // RecordNone, RecordOutcome or RecordForget
	Attempt                 string
}

// reduceCall holds one call's keys and arguments in a single allocation.
type reduceCall struct {
	keys [4]string
	args [4]any
}

// Build returns Reduce's KEYS and ARGV for in.
func (in *ReduceInput) Build() (keys []string, args []any) {
	c := new(reduceCall)
	keys = withRecord(append(c.keys[:0], in.Key), in.RecordKey, in.AddRecordKey)
	keys = append(keys, in.HoldBuckets)
	args = append(c.args[:0], in.Amount, in.Retention, in.Mode, in.Attempt)
	return keys, args
}

// Idempotency modes of Add and Reduce (their last argument). Numbers, not words: a small
// integer costs the client no allocation.
const (
	RecordNone    = 0
	RecordOutcome = 1 // replay the record if it exists, else record this outcome
	RecordForget  = 2 // undo the change the record is for (see add.lua and reduce.lua)
)

// withRecord appends the idempotency record's key, and the add's record when it is
// another key, to keys; nothing without a record.
func withRecord(keys []string, recordKey, addRecordKey string) []string {
	if recordKey == "" {
		return keys
	}
	keys = append(keys, recordKey)
	if addRecordKey != "" && addRecordKey != recordKey {
		keys = append(keys, addRecordKey)
	}
	return keys
}
