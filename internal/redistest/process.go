package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Kill sends SIGKILL to the server's process (this one only, by pid), as a crash, and
// waits for it to end. Its directory is kept, so that RestartWith can bring it back.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// Pause freezes the server's process with SIGSTOP: its connections stay open and its
// queued requests wait, as on a machine that stalls.
func (s *Server) Pause() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Cmd sends one command over a short-lived connection and returns the reply as go-redis
// reads it (strings, integers, arrays, maps).
func (s *Server) Cmd(ctx context.Context, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, PoolSize: 1, ContextTimeoutEnabled: true})
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// Info returns the fields of INFO section, such as "role" or "master_link_status".
func (s *Server) Info(ctx context.Context, section string) (map[string]string, error) {
	reply, err := s.Cmd(ctx, "INFO", section)
	if err != nil {
		return nil, err
	}
	text, ok := reply.(string)
	if !ok {
		return nil, fmt.Errorf("INFO %s on %s: unexpected reply %v", section, s.Addr, reply)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// waitFor calls cond every 20ms until it reports true or timeout passes, and then returns
// an error naming what and the last error cond gave.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %v (last error: %v)", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitReplicaSynced waits until the replica reports its link to its primary up and no
// sync in progress.
func (s *Server) WaitReplicaSynced(timeout time.Duration) error {
	return waitFor(timeout, "replica "+s.Addr+" synced", func() (bool, error) {
		info, err := s.Info(context.Background(), "replication")
		return err == nil && info["role"] == "slave" && info["master_link_status"] == "up" &&
			info["master_sync_in_progress"] == "0", err
	})
}

// Log returns the server's log so far, for a test to show when it fails.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
