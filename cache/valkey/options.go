package valkey

import (
	"time"

	"github.com/ramadani/andromeda/cache/internal/replicawait"
)

// Option configures New.
type Option func(*options)

type options struct {
	replicas replicawait.Wait // the zero value sends no WAIT
}

// WaitForReplicas makes every change (add, reduce, multi-quota, hold and coalesced
// batch) wait until at least n replicas of the primary that ran it have received it: the
// adapter sends the change script and `WAIT n timeout` together on one dedicated
// connection to that primary (WAIT blocks its connection, so it never goes on the
// shared, pipelined ones). When fewer than n replicas confirm within timeout, the change
// fails with an error wrapping andromeda.ErrUnknownOutcome: it was applied on the
// primary, but a failover now could lose it.
//
// The promise and its limits are those of redisv9.WaitForReplicas: an acknowledged change
// reached n replicas' memory; WAIT is not consensus, and nothing here reaches disk.
//
// n must be at least 1 and timeout at least one millisecond (WAIT with timeout 0 would
// block forever); WaitForReplicas panics otherwise. It works with standalone, Sentinel
// and cluster clients (on a cluster, the dedicated connection goes to the master that
// owns the keys' slot, and follows an ASK redirect itself).
func WaitForReplicas(n int, timeout time.Duration) Option {
	wait := replicawait.New("valkey.WaitForReplicas", n, timeout)
	return func(o *options) { o.replicas = wait }
}
