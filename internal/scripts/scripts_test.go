package scripts

import (
	"reflect"
	"strconv"
	"testing"
)

// ParseUsage takes exactly what exact.lua takes: 0 to 2^53, written as INCRBY writes it.
func TestParseUsage(t *testing.T) {
	for raw, want := range map[string]int64{"0": 0, "1": 1, "42": 42, "9007199254740991": 1<<53 - 1, "9007199254740992": 1 << 53} {
		if got, ok := ParseUsage(raw); !ok || got != want {
			t.Errorf("ParseUsage(%q) = %d, %v; want %d", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", "-0", "-1", "-5", "00", "05", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc",
		"9007199254740993", "9999999999999999", "10000000000000000", strconv.FormatInt(1<<62, 10)} {
		if got, ok := ParseUsage(raw); ok {
			t.Errorf("ParseUsage(%q) = %d, true; want not a usage", raw, got)
		}
	}
}

func TestParseInvalidReplies(t *testing.T) {
	for _, tc := range []struct {
		reply any
		want  Reply
	}{
		{[]any{int64(9), "-5", "k"}, Reply{Status: NotInteger, Raw: "-5", Key: "k"}},
		{[]any{int64(9), "x"}, Reply{Status: NotInteger, Raw: "x"}}, // hold.lua names no key
		{[]any{int64(10), "hash", "k"}, Reply{Status: WrongType, Raw: "hash", Key: "k"}},
		{[]any{int64(11), int64(3), "{k}:rec"}, Reply{Status: AmountMismatch, Usage: 3, Key: "{k}:rec"}},
		{[]any{int64(0), int64(1 << 53), int64(1 << 53), int64(1)}, Reply{Usage: 1 << 53, Limit: 1 << 53, Replayed: true}},
	} {
		got, err := Parse(tc.reply)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%v) = %+v, %v; want %+v", tc.reply, got, err, tc.want)
		}
	}
	// A batch's foreign value is one reply, whatever the number of adds.
	batch, err := ParseBatch([]any{int64(10), "list", "k"}, []int64{1, 2}, []int64{5, 5})
	if err != nil || len(batch) != 1 || batch[0].Status != WrongType || batch[0].Key != "k" {
		t.Errorf("ParseBatch of a wrong type = %+v, %v", batch, err)
	}
	// Usage 3 before: +1 applied (4), 2 refused (limit 5), +1 applied (5).
	batch, err = ParseBatch([]any{int64(0), int64(3), "020", int64(-1)}, []int64{1, 2, 1}, []int64{5, 5, 5})
	want := []Reply{{Usage: 4, Limit: 5}, {Status: LimitExceeded, Usage: 4, Limit: 5}, {Usage: 5, Limit: 5}}
	if err != nil || !reflect.DeepEqual(batch, want) {
		t.Errorf("ParseBatch = %+v, %v; want %+v", batch, err, want)
	}
	for _, bad := range []any{
		[]any{int64(0), int64(3), "02", int64(-1)},  // two outcomes for three adds
		[]any{int64(0), int64(3), "0x0", int64(-1)}, // an outcome that is none
		[]any{int64(0), "3", "000", int64(-1)},      // a usage that is not a number
		[]any{int64(3)},                             // an unknown status
	} {
		if got, err := ParseBatch(bad, []int64{1, 2, 1}, []int64{5, 5, 5}); err == nil {
			t.Errorf("ParseBatch(%v) = %+v, want an error", bad, got)
		}
	}
	multi, err := ParseMulti([]any{int64(10), int64(2), "hash"})
	if err != nil || multi.Status != WrongType || multi.Index != 1 || multi.Raw != "hash" {
		t.Errorf("ParseMulti of a wrong type = %+v, %v", multi, err)
	}
	multi, err = ParseMulti([]any{int64(9), int64(1), "soon=2", "{k}:hold-buckets"})
	if err != nil || multi.Status != NotInteger || multi.Index != 0 || multi.Raw != "soon=2" || multi.Key != "{k}:hold-buckets" {
		t.Errorf("ParseMulti of foreign buckets = %+v, %v", multi, err)
	}
}
