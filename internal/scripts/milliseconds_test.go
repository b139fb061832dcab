package scripts

import (
	"math"
	"testing"
	"time"
)

func TestMillisecondsRoundsUpWithoutOverflow(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0:                                  0,
		time.Nanosecond:                    1,
		time.Millisecond:                   1,
		time.Millisecond + 1:               2,
		time.Hour:                          3_600_000,
		time.Duration(math.MaxInt64):       math.MaxInt64/int64(time.Millisecond) + 1,
		time.Duration(math.MaxInt64 - 1e6): math.MaxInt64 / int64(time.Millisecond),
	} {
		if got := Milliseconds(d); got != want {
			t.Errorf("Milliseconds(%d) = %d, want %d", d, got, want)
		}
	}
}
