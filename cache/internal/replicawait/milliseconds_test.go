package replicawait

import (
	"math"
	"testing"
	"time"
)

func TestWaitMillisecondsWithoutOverflow(t *testing.T) {
	for timeout, want := range map[time.Duration]int64{
		time.Millisecond:             1,
		time.Millisecond + 1:         2,
		100 * time.Millisecond:       100,
		time.Duration(math.MaxInt64): math.MaxInt64/int64(time.Millisecond) + 1,
	} {
		if got := (Wait{N: 1, Timeout: timeout}).Milliseconds(); got != want {
			t.Errorf("Milliseconds of %d = %d, want %d", timeout, got, want)
		}
	}
}
