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
// the usage at key (limitKey, when not empty, holding the limit instead), in order. A
// limit that every add shares is sent once.
func AddBatchArgs(key, limitKey, holdBuckets string, absent int64, amounts, limits []int64) (keys []string, args []any) {
	keys = []string{key}
	if limitKey != "" {
		keys = append(keys, limitKey)
	}
	keys = append(keys, holdBuckets)
	args = make([]any, 0, 3+2*len(amounts))
	args = append(args, absent, int64(len(amounts)))
	for _, amount := range amounts {
		args = append(args, amount)
	}
	if limitKey != "" {
		return keys, args
	}
	if shared(limits) {
		return keys, append(args, limits[0])
	}
	for _, limit := range limits {
		args = append(args, limit)
	}
	return keys, args
}

// shared reports whether all limits are the same.
func shared(limits []int64) bool {
	for _, l := range limits {
		if l != limits[0] {
			return false
		}
	}
	return true
}

// ParseBatch reads AddBatch's reply to adds of amounts within limits (as sent), one Reply
// per add, as add.lua would have replied to each: the usage after an applied add, the
// usage found for a refused one. When a key holds something that is not a usage it
// returns a single Reply with Status NotInteger or WrongType.
func ParseBatch(reply any, amounts, limits []int64) ([]Reply, error) {
	fields, ok := reply.([]any)
	if !ok || len(fields) == 0 {
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	status, ok := fields[0].(int64)
	switch {
	case !ok:
		return nil, fmt.Errorf("unexpected script status %v", fields[0])
	case Invalid(status):
		r, err := Parse(fields)
		return []Reply{r}, err
	}
	replies := make([]Reply, len(amounts))
	switch {
	case status == LimitMissing && len(fields) == 1:
		for i := range replies {
			replies[i] = Reply{Status: LimitMissing}
		}
		return replies, nil
	case status == Missing && len(fields) == 2:
		limit, ok := fields[1].(int64)
		if !ok {
			return nil, fmt.Errorf("unexpected script reply %v", reply)
		}
		for i := range replies {
			replies[i] = Reply{Status: Missing, Limit: limit}
		}
		return replies, nil
	case status != Applied || len(fields) != 4:
		return nil, fmt.Errorf("unexpected script reply %v", reply)
	}
	usage, ok1 := fields[1].(int64)
	outcomes, ok2 := fields[2].(string)
	cached, ok3 := fields[3].(int64)
	if !ok1 || !ok2 || !ok3 || len(outcomes) != len(amounts) || len(limits) != len(amounts) {
		return nil, fmt.Errorf("unexpected script reply %v to %d adds", reply, len(amounts))
	}
	for i := range replies {
		limit := limits[i]
		if cached >= 0 {
			limit = cached
		}
		r := Reply{Status: LimitExceeded, Usage: usage, Limit: limit}
		switch outcomes[i] {
		case '0':
			usage += amounts[i]
			r.Status, r.Usage = Applied, usage
		case '2':
		default:
			return nil, fmt.Errorf("unexpected outcome %q in script reply %v", outcomes[i], reply)
		}
		replies[i] = r
	}
	return replies, nil
}
