package redistest

import (
	"context"
	"fmt"
	"net"
	"time"
)

// quick bounds each probe of a node, so that a killed or paused node only costs this.
const quick = 500 * time.Millisecond

// cmdQuick sends one command to s, giving up after quick.
func cmdQuick(s *Server, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), quick)
	defer cancel()
	return s.Cmd(ctx, args...)
}

// node returns the node at addr.
func (c *Cluster) node(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// SlotOf returns the hash slot of key.
func (c *Cluster) SlotOf(key string) (int, error) {
	var lastErr error
	for _, n := range c.Nodes {
		reply, err := cmdQuick(n, "CLUSTER", "KEYSLOT", key)
		if err == nil {
			slot, ok := reply.(int64)
			if !ok {
				return 0, fmt.Errorf("CLUSTER KEYSLOT: unexpected reply %v", reply)
			}
			return int(slot), nil
		}
		lastErr = err
	}
	return 0, lastErr
}

// ownerSeenBy returns the master that serves slot in n's view of the cluster.
func (c *Cluster) ownerSeenBy(n *Server, slot int) (*Server, error) {
	reply, err := cmdQuick(n, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, err
	}
	ranges, _ := reply.([]any)
	for _, r := range ranges {
		fields, _ := r.([]any)
		if len(fields) < 3 {
			continue
		}
		start, _ := fields[0].(int64)
		end, _ := fields[1].(int64)
		master, _ := fields[2].([]any)
		if int64(slot) < start || int64(slot) > end || len(master) < 2 {
			continue
		}
		addr := net.JoinHostPort(fmt.Sprint(master[0]), fmt.Sprint(master[1]))
		if owner := c.node(addr); owner != nil {
			return owner, nil
		}
		return nil, fmt.Errorf("%s names %s for slot %d, not a node of this cluster", n.Addr, addr, slot)
	}
	return nil, fmt.Errorf("%s: no master serves slot %d", n.Addr, slot)
}

// MasterOf returns the master serving slot, as the first node that answers sees it.
func (c *Cluster) MasterOf(slot int) (*Server, error) {
	var lastErr error
	for _, n := range c.Nodes {
		owner, err := c.ownerSeenBy(n, slot)
		if err == nil {
			return owner, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// WaitPromoted waits until another node than old serves slot as a master, by its own
// account, and returns it.
func (c *Cluster) WaitPromoted(slot int, old *Server, timeout time.Duration) (*Server, error) {
	var promoted *Server
	err := waitFor(timeout, fmt.Sprintf("slot %d served by another master than %s", slot, old.Addr), func() (bool, error) {
		for _, n := range c.Nodes {
			if n == old {
				continue
			}
			owner, err := c.ownerSeenBy(n, slot)
			if err != nil || owner != n {
				continue
			}
			info, err := n.Info(context.Background(), "replication")
			if err == nil && info["role"] == "master" {
				promoted = n
				return true, nil
			}
		}
		return false, nil
	})
	return promoted, err
}

// WaitHealthy waits until every node reports the cluster ok and every replica has synced.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	if err := c.waitReady(timeout); err != nil {
		return err
	}
	for _, n := range c.Nodes {
		info, err := n.Info(context.Background(), "replication")
		if err != nil {
			return err
		}
		if info["role"] == "slave" {
			if err := n.WaitReplicaSynced(timeout); err != nil {
				return err
			}
		}
	}
	return nil
}

// nodeID returns n's cluster node ID.
func nodeID(n *Server) (string, error) {
	reply, err := cmdQuick(n, "CLUSTER", "MYID")
	if err != nil {
		return "", err
	}
	return fmt.Sprint(reply), nil
}

// MigrateSlot moves slot from one master to another the way redis-cli --cluster reshard
// does, while clients keep using it: the target imports and the source migrates it, the
// keys move a batch at a time with MIGRATE (clients get ASK and TRYAGAIN meanwhile), and
// then every master is told the new owner. pause is slept between batches, so that a
// migration spans many requests.
func (c *Cluster) MigrateSlot(slot int, from, to *Server, batch int, pause time.Duration) error {
	ctx := context.Background()
	fromID, err := nodeID(from)
	if err != nil {
		return err
	}
	toID, err := nodeID(to)
	if err != nil {
		return err
	}
	if _, err := to.Cmd(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID); err != nil {
		return fmt.Errorf("SETSLOT IMPORTING on %s: %w", to.Addr, err)
	}
	if _, err := from.Cmd(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID); err != nil {
		return fmt.Errorf("SETSLOT MIGRATING on %s: %w", from.Addr, err)
	}
	host, port, _ := net.SplitHostPort(to.Addr)
	for {
		reply, err := from.Cmd(ctx, "CLUSTER", "GETKEYSINSLOT", slot, batch)
		if err != nil {
			return fmt.Errorf("GETKEYSINSLOT on %s: %w", from.Addr, err)
		}
		keys, _ := reply.([]any)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		args = append(args, keys...)
		if _, err := from.Cmd(ctx, args...); err != nil {
			return fmt.Errorf("MIGRATE from %s: %w", from.Addr, err)
		}
		time.Sleep(pause)
	}
	// The target first, then the source, then everyone else, as redis-cli does.
	for _, n := range append([]*Server{to, from}, c.Nodes...) {
		info, err := n.Info(ctx, "replication")
		if err != nil || info["role"] != "master" {
			continue
		}
		if _, err := n.Cmd(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID); err != nil {
			return fmt.Errorf("SETSLOT NODE on %s: %w", n.Addr, err)
		}
	}
	return nil
}

// Masters returns the nodes that are masters now.
func (c *Cluster) Masters() []*Server {
	var masters []*Server
	for _, n := range c.Nodes {
		if info, err := n.Info(context.Background(), "replication"); err == nil && info["role"] == "master" {
			masters = append(masters, n)
		}
	}
	return masters
}
