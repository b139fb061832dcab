package redistest

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters started by this package.
type Cluster struct {
	Nodes []*Server
}

// Addrs lists the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// FlushAll empties every node.
func (c *Cluster) FlushAll() error {
	for _, n := range c.Nodes {
		if _, err := n.Do("FLUSHALL"); err != nil {
			return err
		}
	}
	return nil
}

// StartCluster starts masters nodes and joins them into a cluster with every slot served.
func StartCluster(masters int) (*Cluster, error) {
	return StartClusterWith(ClusterOptions{Masters: masters})
}

// ClusterOptions shape a cluster for StartClusterWith.
type ClusterOptions struct {
	Masters int
	// ReplicasPerMaster replicas are given to each master (redis-cli --cluster-replicas).
	ReplicasPerMaster int
	// NodeTimeout is cluster-node-timeout: how long a silent node takes to be failed
	// over. 0 means 5 s.
	NodeTimeout time.Duration
}

// StartClusterWith starts a cluster shaped by opts, with every slot served and every
// replica synced.
func StartClusterWith(opts ClusterOptions) (*Cluster, error) {
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 5 * time.Second
	}
	c := &Cluster{}
	for i := 0; i < opts.Masters*(1+opts.ReplicasPerMaster); i++ {
		args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10)}
		if opts.ReplicasPerMaster > 0 {
			args = append(args, replicationArgs...)
		}
		n, err := Start(args...)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.ReplicasPerMaster), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitReady waits until every node reports the cluster ok and knows every node.
func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, n := range c.Nodes {
		for {
			info, err := exec.Command("redis-cli", "-u", "redis://"+n.Addr, "cluster", "info").Output()
			want := fmt.Sprintf("cluster_known_nodes:%d", len(c.Nodes))
			if err == nil && strings.Contains(string(info), "cluster_state:ok") && strings.Contains(string(info), want) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster on %v not ready after %v: %s", c.Addrs(), timeout, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// SharedCluster starts one 3-master cluster for a whole test binary, the first time a
// test asks for it, and empties it for each test. Call StopShared from TestMain.
type SharedCluster struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// Get returns the cluster, emptied, failing or skipping t as Require does.
func (s *SharedCluster) Get(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	s.once.Do(func() { s.cluster, s.err = StartCluster(3) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	if err := s.cluster.FlushAll(); err != nil {
		t.Fatal(err)
	}
	return s.cluster
}

// Stop stops the cluster if it was started.
func (s *SharedCluster) Stop() {
	if s.cluster != nil {
		s.cluster.Stop()
	}
}
