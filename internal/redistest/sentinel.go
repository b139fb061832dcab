package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// SentinelMaster is the name a sentinel started here monitors its master under.
const SentinelMaster = "andromeda"

// Sentinel starts a master and one sentinel watching it for t, and stops both when t
// ends. It returns the sentinel's address.
func Sentinel(t testing.TB) string {
	t.Helper()
	master := Standalone(t)
	s, err := startSentinel(master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.Addr
}

func startSentinel(masterAddr string) (*Server, error) {
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
	content := fmt.Sprintf("sentinel monitor %s %s %d 1\nsentinel down-after-milliseconds %s 5000\n",
		SentinelMaster, host, port, SentinelMaster)
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
