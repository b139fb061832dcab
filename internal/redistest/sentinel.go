package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// SentinelMaster is the name a sentinel started here monitors its master under.
const SentinelMaster = "andromeda"

// Sentinel starts a master and one sentinel watching it for t, and stops both when t
// ends. It returns the sentinel's address.
func Sentinel(t testing.TB) string {
	t.Helper()
	master := Standalone(t)
	s, err := startSentinel(master.Addr, 1, 5*time.Second, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.Addr
}

// startSentinel starts a sentinel watching the master at masterAddr: it is deemed down
// after downAfter, by quorum sentinels, and a failover is retried after failoverTimeout.
func startSentinel(masterAddr string, quorum int, downAfter, failoverTimeout time.Duration) (*Server, error) {
	host, portText, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, err
	}
	// A sentinel rewrites its config file, so it gets one of its own.
	dir, err := os.MkdirTemp("", "andromeda-sentinel-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "sentinel.conf")
	content := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]d %[4]d\n"+
		"sentinel down-after-milliseconds %[1]s %[5]d\nsentinel failover-timeout %[1]s %[6]d\n",
		SentinelMaster, host, port, quorum, downAfter.Milliseconds(), failoverTimeout.Milliseconds())
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		return nil, err
	}
	s, err := startWithConfig(conf, []string{"--sentinel"})
	if err != nil {
		return nil, err
	}
	s.extraDirs = append(s.extraDirs, dir)
	return s, nil
}
