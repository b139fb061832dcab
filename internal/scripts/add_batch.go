package scripts

import (
	_ "embed"
	"fmt"
)

// AddBatch decides many adds to one key in one call, in order (see add_batch.lua).
var AddBatch = exact + holdsRelease + releaseHolds + addBatchSource

//go:embed add_batch.lua
var addBatchSource string

// AddBatchArgs returns AddBatch's KEYS and ARGV: adds of amounts[i] within limits[i] to
// the usage at key (limitKey, when not empty, holding the limit instead), in order.
func AddBatchArgs(key, limitKey, holdBuckets string, absent int64, amounts, limits []int64) (keys []string, args []any) {
	keys = []string{key}
	if limitKey != "" {
		keys = append(keys, limitKey)
	}
	keys = append(keys, holdBuckets)
	args = make([]any, 0, 1+2*len(amounts))
	args = append(args, absent)
	for i := range amounts {
		args = append(args, amounts[i], limits[i])
	}
	return keys, args
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
