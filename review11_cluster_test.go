package andromeda_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/cache/rueidis"
	"github.com/ramadani/andromeda/internal/faultproxy"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	rueidisclient "github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reviewer 11: cluster clients (v9 and rueidis, with and without WaitForReplicas), each node
// behind its own fault proxy, under the same faults as the standalone matrix.

type review11ClusterRig struct {
	proxies []*faultproxy.Proxy
	direct  *redis.ClusterClient
	cache   andromeda.Cache
}

func (r review11ClusterRig) each(f func(p *faultproxy.Proxy)) {
	for _, p := range r.proxies {
		f(p)
	}
}

func (r review11ClusterRig) usage(t *testing.T, key string) int64 {
	v, err := r.direct.Get(context.Background(), key).Int64()
	require.NoError(t, err)
	return v
}

func newReview11ClusterRig(t *testing.T, kind string) review11ClusterRig {
	c := sharedCluster.Get(t)
	mapping := map[string]string{}
	var rig review11ClusterRig
	for _, addr := range c.Addrs() {
		p, err := faultproxy.Start(addr)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		mapping[addr] = p.Addr()
		rig.proxies = append(rig.proxies, p)
	}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if p, ok := mapping[addr]; ok {
			addr = p
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	rig.direct = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { rig.direct.Close() })
	switch kind {
	case "v9", "v9 wait", "v9 ctxtimeout":
		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: kind == "v9 ctxtimeout",
			Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr) }})
		t.Cleanup(func() { client.Close() })
		if kind == "v9 wait" {
			rig.cache = redisv9.New(client, redisv9.WaitForReplicas(1, 50*time.Millisecond))
		} else {
			rig.cache = redisv9.New(client)
		}
	case "rueidis", "rueidis wait":
		client, err := rueidisclient.NewClient(rueidisclient.ClientOption{InitAddress: c.Addrs(),
			DialCtxFn: func(ctx context.Context, addr string, _ *net.Dialer, _ *tls.Config) (net.Conn, error) {
				return dial(ctx, addr)
			}})
		require.NoError(t, err)
		t.Cleanup(client.Close)
		if kind == "rueidis wait" {
			rig.cache = rueidis.New(client, rueidis.WaitForReplicas(1, 50*time.Millisecond))
		} else {
			rig.cache = rueidis.New(client)
		}
	}
	return rig
}

var review11ClusterKinds = []string{"v9", "v9 ctxtimeout", "v9 wait", "rueidis", "rueidis wait"}

func TestReview11ClusterClients(t *testing.T) {
	skipLongInShort(t)
	redistest.Require(t)
	for _, kind := range review11ClusterKinds {
		t.Run(kind, func(t *testing.T) {
			rig := newReview11ClusterRig(t, kind)
			review11Warm(t, rig.cache, "r11kw:{w}:usage")
			for _, e := range review11Entries {
				key := fmt.Sprintf("r11k:{%s}:usage", e.name)
				set := func() { require.NoError(t, rig.direct.Set(context.Background(), key, review11Start, 0).Err()) }

				// before: the context ends just before the script is handed over
				set()
				ctx, cancel := context.WithCancel(context.Background())
				err := e.do(ctx, review11CancelOnRun{Cache: rig.cache, cancel: cancel}, key)
				cancel()
				assert.Contains(t, []string{"notsent", "ctx", "unavailable"}, review11Outcome(err), "before/%s: %v", e.name, err)
				assert.Equal(t, review11Start, rig.usage(t, key), "before/%s", e.name)

				// dropped reply, once
				set()
				review11Warm(t, rig.cache, key+"w")
				armed := &atomic.Bool{}
				armed.Store(true)
				dropper := &review11ClusterDropOnce{Cache: rig.cache, rig: rig, armed: armed}
				ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
				err = e.do(ctx, dropper, key)
				cancel()
				v := rig.usage(t, key)
				t.Logf("dropped/%s: %s, usage %+d", e.name, review11Outcome(err), v-review11Start)
				if err == nil {
					assert.Equal(t, review11Start+e.change, v, "dropped/%s", e.name)
				} else {
					assert.Equal(t, "unknown", review11Outcome(err), "dropped/%s: %v", e.name, err)
					assert.Contains(t, []int64{review11Start, review11Start + e.change}, v, "dropped/%s", e.name)
				}

				// refused
				set()
				rig.each(func(p *faultproxy.Proxy) { p.Refuse(true); p.CutAll() })
				ctx, cancel = context.WithTimeout(context.Background(), 4*time.Second)
				started := time.Now()
				err = e.do(ctx, rig.cache, key)
				cancel()
				took := time.Since(started)
				rig.each(func(p *faultproxy.Proxy) { p.Refuse(false) })
				t.Logf("refused/%s: %s in %v", e.name, review11Outcome(err), took.Round(time.Millisecond))
				assert.Contains(t, []string{"unavailable", "unknown"}, review11Outcome(err), "refused/%s: %v", e.name, err)
				assert.Equal(t, review11Start, rig.usage(t, key), "refused/%s", e.name)
			}
		})
	}
}

type review11ClusterDropOnce struct {
	andromeda.Cache
	rig   review11ClusterRig
	armed *atomic.Bool
}

func (c *review11ClusterDropOnce) RunScript(ctx context.Context, s *andromeda.Script, keys []string, args ...any) (any, error) {
	if c.armed.CompareAndSwap(true, false) {
		c.rig.each(func(p *faultproxy.Proxy) { p.DropReplies(true) })
		defer c.rig.each(func(p *faultproxy.Proxy) { p.DropReplies(false) })
	}
	return c.Cache.RunScript(ctx, s, keys, args...)
}

func (c *review11ClusterDropOnce) WaitsForReplicas() bool {
	w, ok := c.Cache.(andromeda.ReplicaWaiter)
	return ok && w.WaitsForReplicas()
}

func (c *review11ClusterDropOnce) RefreshSlots(ctx context.Context) bool {
	r, ok := c.Cache.(andromeda.SlotRefresher)
	return ok && r.RefreshSlots(ctx)
}
