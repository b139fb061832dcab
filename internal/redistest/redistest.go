// Package redistest starts real redis-server processes on free loopback ports for tests:
// a standalone server, a cluster (with replicas if asked) joined with `redis-cli --cluster
// create`, or a primary with replicas and sentinels. For failover tests it kills, pauses
// and resumes a server by its pid, restarts it (as a replica), finds a slot's master and
// migrates a slot between masters. It stops exactly the processes it started. Where redis-server is missing, tests skip
// with a message saying how to install it; under CI (CI set) they fail instead.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process started by this package.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	// args are the arguments it was started with, for restarts.
	args []string
	// extraDirs are removed with the server.
	extraDirs []string
}

// Require skips t, or fails it under CI, when redis-server or redis-cli is not on the PATH.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := bin + " is not on the PATH; install it (Debian/Ubuntu: apt-get install redis-server, macOS: brew install redis) to run the real-Redis tests"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Standalone starts a redis-server for t and stops it when t ends.
func Standalone(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	Require(t)
	s, err := Start(extraArgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts a redis-server on a free loopback port, keeping nothing on disk.
func Start(extraArgs ...string) (*Server, error) {
	return startWithConfig("", extraArgs)
}

// startWithConfig starts a redis-server reading configFile, if given, before the arguments.
func startWithConfig(configFile string, extraArgs []string) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ { // a free port can be taken before we use it
		s, err := start(configFile, extraArgs)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(configFile string, extraArgs []string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "andromeda-redis-")
	if err != nil {
		return nil, err
	}
	var args []string
	if configFile != "" {
		args = append(args, configFile) // redis-server wants it first
	}
	args = append(args,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	args = append(args, extraArgs...)
	cmd := exec.Command("redis-server", args...)
	// If the test binary dies, the server dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir, args: args}
	if err := s.waitReady(5 * time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		s.Stop()
		return nil, fmt.Errorf("redis-server on %s: %w\n%s", s.Addr, err, log)
	}
	return s, nil
}

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	for _, dir := range append(s.extraDirs, s.dir) {
		os.RemoveAll(dir)
	}
}

// Restart kills the server and starts a new, empty one on the same port, as after a
// crash of a server that keeps nothing on disk.
func (s *Server) Restart() error { return s.RestartWith() }

// RestartWith kills the server (if it still runs) and starts a new, empty one on the same
// port with the same arguments followed by extraArgs, which override them (for example
// "--replicaof", host, port to come back as a replica).
func (s *Server) RestartWith(extraArgs ...string) error {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	cmd := exec.Command(s.cmd.Path, append(append([]string{}, s.args...), extraArgs...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart redis-server on %s: %w", s.Addr, err)
	}
	s.cmd = cmd
	return s.waitReady(5 * time.Second)
}

// Do sends one command and returns the first line of the reply.
func (s *Server) Do(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		reply, err := s.Do("PING")
		if err == nil && reply == "+PONG" {
			return s.checkPid()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v %q", timeout, err, reply)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort finds a loopback port that is free, and whose cluster bus port (+10000) is too.
func freePort() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port pair found")
}

// checkPid makes sure the server answering on s.Addr is the process started for s: two
// test binaries may pick the same free port at once, and then the one that lost the
// race would talk to the other's server (or sentinel) as if it were its own.
func (s *Server) checkPid() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.Info(ctx, "server")
	if err != nil {
		return err
	}
	if pid := strconv.Itoa(s.cmd.Process.Pid); info["process_id"] != pid {
		return fmt.Errorf("port %s is served by process %s, not by ours (%s)", s.Addr, info["process_id"], pid)
	}
	return nil
}
