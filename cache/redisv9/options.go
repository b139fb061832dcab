package redisv9

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
// batch) wait until at least n replicas of the primary that ran it have received it:
// the adapter sends `WAIT n timeout` right after the change script, in the same
// pipeline on the same connection, so it costs no extra round trip but the replicas'
// acknowledgement time. When fewer than n replicas confirm within timeout, the change
// fails with an error wrapping andromeda.ErrUnknownOutcome: it was applied on the
// primary, but a failover now could lose it.
//
// What it promises: an acknowledged change reached n replicas' memory, so promoting one
// of them (Sentinel and Redis Cluster promote the most up-to-date replica they can
// reach) keeps it. What it does not: WAIT is not consensus. A replica that received the
// change may not be the one promoted (a partitioned or lagging one can be), a change
// whose WAIT fell short stays applied on the primary and is replicated later (or lost,
// if the primary dies first), and nothing here reaches disk: Redis 7.0 has no WAITAOF,
// and a replica restarted from an old snapshot forgets what it acknowledged. With no
// replica left every change is applied on the primary and reported as unknown after
// timeout, so a sale stops selling (fails closed) rather than acknowledging changes
// that a failover would lose.
//
// n must be at least 1 and timeout at least one millisecond (WAIT with timeout 0 would
// block forever); New panics otherwise. It works with a standalone or failover client
// and with a cluster client (WAIT goes to the master that owns the keys); not with a
// Ring, whose shards are standalone servers (New panics).
func WaitForReplicas(n int, timeout time.Duration) Option {
	wait := replicawait.New("redisv9.WaitForReplicas", n, timeout)
	return func(o *options) { o.replicas = wait }
}
