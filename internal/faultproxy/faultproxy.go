// Package faultproxy is a loopback TCP proxy for tests that puts faults between a client
// and a server: latency on requests, connections cut mid-request, new connections refused,
// and replies dropped after the server has acted on the request.
package faultproxy

import (
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections from its loopback address to a target.
type Proxy struct {
	listener net.Listener
	target   string

	latency     atomic.Int64  // nanoseconds added before each chunk sent to the target
	refuse      atomic.Bool   // new connections are closed at once
	dropReplies atomic.Bool   // replies are swallowed and the connection cut
	dropRate    atomic.Uint64 // math.Float64bits of the chance that one reply is dropped

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, cut atomic.Int64
}

// Start listens on a free loopback port and forwards to target.
func Start(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{listener: l, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// SetLatency delays every chunk of request bytes by d.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Refuse makes new connections close as soon as they are accepted (on) or work (off).
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// DropReplies makes the proxy swallow the server's replies and cut the connection: the
// server has run the request, the client never hears so.
func (p *Proxy) DropReplies(on bool) { p.dropReplies.Store(on) }

// SetDropRate makes the proxy swallow each reply from the server with probability p and
// cut that connection: the server ran the request, the client never hears so. 0 stops it.
func (p *Proxy) SetDropRate(rate float64) { p.dropRate.Store(math.Float64bits(rate)) }

// dropThis decides whether the reply just read is dropped.
func (p *Proxy) dropThis() bool {
	if p.dropReplies.Load() {
		return true
	}
	rate := math.Float64frombits(p.dropRate.Load())
	return rate > 0 && rand.Float64() < rate
}

// CutAll closes every open connection, whatever it is doing.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		p.cut.Add(1)
	}
}

// Stats reports how many connections were accepted and how many were cut.
func (p *Proxy) Stats() (accepted, cut int64) { return p.accepted.Load(), p.cut.Load() }

// Close stops the proxy and every connection, and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.listener.Close()
	p.CutAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.refuse.Load() {
			client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		p.wg.Add(2)
		go p.pipe(server, client, true)
		go p.pipe(client, server, false)
	}
}

// track registers a connection pair, unless the proxy is closing.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) forget(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// pipe copies from src to dst until either side ends, then closes both.
func (p *Proxy) pipe(dst, src net.Conn, toServer bool) {
	defer p.wg.Done()
	defer p.forget(dst, src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if toServer {
				if d := time.Duration(p.latency.Load()); d > 0 {
					time.Sleep(d)
				}
			} else if p.dropThis() {
				p.cut.Add(1)
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or a cut: either way this pair is done
			return
		}
	}
}
