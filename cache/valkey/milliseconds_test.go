package valkey

import (
	"math"
	"testing"
	"time"
)

// A lock's time to live is whole milliseconds, rounded up, at least one, and a "forever"
// LockIn stays forever instead of overflowing into a 1 ms lock.
func TestMilliseconds(t *testing.T) {
	for ttl, want := range map[time.Duration]int64{
		0:                            1,
		time.Microsecond:             1,
		time.Millisecond:             1,
		time.Millisecond + 1:         2,
		3 * time.Second:              3000,
		time.Duration(math.MaxInt64): math.MaxInt64/int64(time.Millisecond) + 1,
	} {
		if got := milliseconds(ttl); got != want {
			t.Errorf("milliseconds(%v) = %d, want %d", ttl, got, want)
		}
	}
}
