package replicawait_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/internal/replicawait"
	"github.com/stretchr/testify/assert"
)

func TestCheckIsUnknownOnlyWhenWaitFellShort(t *testing.T) {
	w := replicawait.New("test.WaitForReplicas", 2, 1500*time.Microsecond)
	assert.True(t, w.On())
	assert.False(t, replicawait.Wait{}.On(), "the zero value sends no WAIT")
	assert.Equal(t, int64(2), w.Milliseconds(), "rounded up")
	assert.NoError(t, w.Check(2, nil))
	assert.NoError(t, w.Check(3, nil))
	err := w.Check(1, nil)
	assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.Contains(t, err.Error(), "1 of 2 replicas")
	cause := errors.New("connection reset")
	err = w.Check(0, cause)
	assert.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	assert.ErrorIs(t, err, cause)
}

func TestNewRejectsArgumentsThatCannotWork(t *testing.T) {
	assert.PanicsWithValue(t, "x.WaitForReplicas: n is 0, want at least 1", func() { replicawait.New("x.WaitForReplicas", 0, time.Second) })
	assert.Panics(t, func() { replicawait.New("x.WaitForReplicas", 1, time.Microsecond) })
}
