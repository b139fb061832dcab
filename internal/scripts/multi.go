package scripts

import (
	_ "embed"
	"fmt"
)

// MultiAdd adds to several quotas, all or nothing (see multi_add.lua).
var MultiAdd = exact + holdsRelease + releaseMultiHolds + multiAddSource

//go:embed multi_add.lua
var multiAddSource string

// MultiReduce subtracts from several quotas, all or nothing (see multi_reduce.lua).
var MultiReduce = exact + holdsRelease + releaseMultiHolds + multiReduceSource

//go:embed multi_reduce.lua
var multiReduceSource string

// MultiAddArgs returns MultiAdd's ARGV: amount to every quota, limits[i] and absent[i]
// (see AbsentArg) for quota i. Its KEYS are the usage keys, then their hold buckets.
func MultiAddArgs(amount int64, limits, absent []int64) []any {
	args := make([]any, 0, 1+2*len(limits))
	args = append(args, amount)
	for i := range limits {
		args = append(args, limits[i], absent[i])
	}
	return args
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
