package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// SentinelGroup is a primary, its replicas and the sentinels watching them, all started
// by this package, for failover tests.
type SentinelGroup struct {
	// Nodes are the data nodes; which one is the primary changes with each failover.
	Nodes     []*Server
	Sentinels []*Server
}

// replicationArgs make a full sync fast: no disk, no waiting for more replicas.
var replicationArgs = []string{"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}

// StartSentinelGroup starts a primary, replicas replicas of it, and sentinels sentinels
// that deem it down after downAfter (a majority agreeing) and fail over to a replica.
func StartSentinelGroup(replicas, sentinels int, downAfter time.Duration) (*SentinelGroup, error) {
	g := &SentinelGroup{}
	primary, err := Start(replicationArgs...)
	if err != nil {
		return nil, err
	}
	g.Nodes = append(g.Nodes, primary)
	host, port, _ := net.SplitHostPort(primary.Addr)
	for i := 0; i < replicas; i++ {
		r, err := Start(append(replicationArgs, "--replicaof", host, port)...)
		if err != nil {
			g.Stop()
			return nil, err
		}
		g.Nodes = append(g.Nodes, r)
	}
	for _, r := range g.Nodes[1:] {
		if err := r.WaitReplicaSynced(10 * time.Second); err != nil {
			g.Stop()
			return nil, err
		}
	}
	for i := 0; i < sentinels; i++ {
		// A short failover timeout lets a run fail over again soon after.
		s, err := startSentinel(primary.Addr, sentinels/2+1, downAfter, 2*time.Second)
		if err != nil {
			g.Stop()
			return nil, err
		}
		g.Sentinels = append(g.Sentinels, s)
	}
	if err := g.waitSentinelsAgree(20 * time.Second); err != nil {
		g.Stop()
		return nil, err
	}
	return g, nil
}

// SentinelAddrs lists the sentinels' addresses.
func (g *SentinelGroup) SentinelAddrs() []string {
	addrs := make([]string, len(g.Sentinels))
	for i, s := range g.Sentinels {
		addrs[i] = s.Addr
	}
	return addrs
}

// Stop stops every process of the group.
func (g *SentinelGroup) Stop() {
	for _, s := range append(append([]*Server{}, g.Sentinels...), g.Nodes...) {
		s.Stop()
	}
}

// node returns the data node at addr.
func (g *SentinelGroup) node(addr string) *Server {
	for _, n := range g.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Primary returns the node the sentinels name as the primary.
func (g *SentinelGroup) Primary(ctx context.Context) (*Server, error) {
	var lastErr error
	for _, s := range g.Sentinels {
		addr, err := masterAddrOf(ctx, s)
		if err != nil {
			lastErr = err
			continue
		}
		if n := g.node(addr); n != nil {
			return n, nil
		}
		lastErr = fmt.Errorf("sentinel %s names %s, not a node of this group", s.Addr, addr)
	}
	return nil, lastErr
}

func masterAddrOf(ctx context.Context, sentinel *Server) (string, error) {
	reply, err := sentinel.Cmd(ctx, "SENTINEL", "get-master-addr-by-name", SentinelMaster)
	if err != nil {
		return "", err
	}
	hostPort, ok := reply.([]any)
	if !ok || len(hostPort) != 2 {
		return "", fmt.Errorf("sentinel %s: unexpected reply %v", sentinel.Addr, reply)
	}
	return net.JoinHostPort(fmt.Sprint(hostPort[0]), fmt.Sprint(hostPort[1])), nil
}

// waitSentinelsAgree waits until every sentinel names the same primary, knows the other
// sentinels and every replica as reachable, and the primary reports itself master. Which
// node that is may change meanwhile: on a busy machine a sentinel can deem a primary
// down that was only slow, and fail over once more.
func (g *SentinelGroup) waitSentinelsAgree(timeout time.Duration) error {
	ctx := context.Background()
	return waitFor(timeout, "sentinels agree on a primary", func() (bool, error) {
		primary := ""
		for _, s := range g.Sentinels {
			addr, err := masterAddrOf(ctx, s)
			if err != nil {
				return false, err
			}
			if primary == "" {
				primary = addr
			}
			if addr != primary {
				return false, fmt.Errorf("sentinel %s names %s, another names %s", s.Addr, addr, primary)
			}
			reply, err := s.Cmd(ctx, "SENTINEL", "master", SentinelMaster)
			if err != nil {
				return false, err
			}
			fields := fieldsOf(reply)
			if fields["num-other-sentinels"] != fmt.Sprint(len(g.Sentinels)-1) ||
				fields["num-slaves"] != fmt.Sprint(len(g.Nodes)-1) || fields["flags"] != "master" {
				return false, fmt.Errorf("sentinel %s: %v", s.Addr, fields)
			}
			// Each replica must be reachable for the sentinel, or it will not promote it.
			// (Its master-link-status is refreshed only every 10 s outside a failover, so
			// the replica's own INFO is what says it has synced.)
			replicas, err := s.Cmd(ctx, "SENTINEL", "replicas", SentinelMaster)
			if err != nil {
				return false, err
			}
			list, _ := replicas.([]any)
			for _, r := range list {
				if f := fieldsOf(r); f["flags"] != "slave" {
					return false, fmt.Errorf("sentinel %s sees replica %s as %s", s.Addr, f["name"], f["flags"])
				}
			}
		}
		n := g.node(primary)
		if n == nil {
			return false, fmt.Errorf("the sentinels name %s, not a node of this group", primary)
		}
		info, err := n.Info(ctx, "replication")
		if err == nil && info["role"] != "master" {
			err = fmt.Errorf("%s reports role %s", primary, info["role"])
		}
		return err == nil, err
	})
}

// fieldsOf reads a sentinel's flat name, value, name, value... reply (or a RESP3 map).
func fieldsOf(reply any) map[string]string {
	fields := map[string]string{}
	switch r := reply.(type) {
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			fields[fmt.Sprint(r[i])] = fmt.Sprint(r[i+1])
		}
	case map[any]any:
		for k, v := range r {
			fields[fmt.Sprint(k)] = fmt.Sprint(v)
		}
	}
	return fields
}

// KillPrimary SIGKILLs the current primary, waits until the sentinels promote another
// node, then restarts the dead node empty as a replica of the new primary and waits
// until it has synced and the sentinels see it, so that the group can fail over again.
// It returns how long the promotion took from the kill.
func (g *SentinelGroup) KillPrimary(timeout time.Duration) (time.Duration, error) {
	ctx := context.Background()
	old, err := g.Primary(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	old.Kill()
	var promoted *Server
	err = waitFor(timeout, "a replica of "+old.Addr+" promoted", func() (bool, error) {
		p, err := g.Primary(ctx)
		if err != nil || p == old {
			return false, err
		}
		info, err := p.Info(ctx, "replication")
		promoted = p
		return err == nil && info["role"] == "master", err
	})
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	host, port, _ := net.SplitHostPort(promoted.Addr)
	if err := old.RestartWith("--replicaof", host, port); err != nil {
		return took, err
	}
	if err := old.WaitReplicaSynced(timeout); err != nil {
		return took, err
	}
	return took, g.waitSentinelsAgree(timeout)
}

// Replicas returns the data nodes other than the primary.
func (g *SentinelGroup) Replicas(ctx context.Context) ([]*Server, error) {
	primary, err := g.Primary(ctx)
	if err != nil {
		return nil, err
	}
	var replicas []*Server
	for _, n := range g.Nodes {
		if n != primary {
			replicas = append(replicas, n)
		}
	}
	return replicas, nil
}

// RestartReplica restarts a killed node empty as a replica of the current primary and
// waits until it has synced and the sentinels see it.
func (g *SentinelGroup) RestartReplica(n *Server, timeout time.Duration) error {
	ctx := context.Background()
	primary, err := g.Primary(ctx)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(primary.Addr)
	if err := n.RestartWith("--replicaof", host, port); err != nil {
		return err
	}
	if err := n.WaitReplicaSynced(timeout); err != nil {
		return err
	}
	return g.waitSentinelsAgree(timeout)
}

// Failovers returns how many failovers the sentinels have made (the master's config
// epoch), counting any a sentinel started on its own, as when a busy primary was slow to
// answer.
func (g *SentinelGroup) Failovers() (int, error) {
	var lastErr error
	for _, s := range g.Sentinels {
		reply, err := s.Cmd(context.Background(), "SENTINEL", "master", SentinelMaster)
		if err != nil {
			lastErr = err
			continue
		}
		return strconv.Atoi(fieldsOf(reply)["config-epoch"])
	}
	return 0, lastErr
}
