package andromedaotel_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every client, proxy and provider is closed when the tests end: whatever still runs
// was leaked.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
