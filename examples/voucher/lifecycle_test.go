package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -limit replaces the limit of a voucher an earlier run created, in the database and in
// Redis; without it the voucher keeps its limit, and the voucher returned says which.
func TestLimitFlagReplacesAnEarlierRunsLimit(t *testing.T) {
	ctx := context.Background()
	st, err := openStore(ctx, "", filepath.Join(t.TempDir(), "voucher.db"))
	require.NoError(t, err)
	defer st.db.Close()
	client := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	defer client.Close()
	cache := redisv9.New(client)
	seed := Voucher{ID: "voucher-HEMAT", Code: "HEMAT", Limit: 2, EndsAt: time.Now().Add(time.Hour)}

	v, err := seedVoucher(ctx, st, cache, seed, false) // the first run
	require.NoError(t, err)
	assert.Equal(t, int64(2), v.Limit)
	svc := &service{store: st, cache: cache, quotas: newQuotas(cache, st)}
	claim := func(user string) error {
		_, err := svc.Claim(ctx, "HEMAT", user)
		return err
	}
	require.NoError(t, claim("a"))
	require.NoError(t, claim("b"))
	require.ErrorIs(t, claim("c"), andromeda.ErrQuotaLimitExceeded) // the limit 2 is kept in Redis now

	seed.Limit = 5
	v, err = seedVoucher(ctx, st, cache, seed, false) // a run without -limit
	require.NoError(t, err)
	assert.Equal(t, int64(2), v.Limit, "the earlier run's limit stays, and is what the log shows")

	v, err = seedVoucher(ctx, st, cache, seed, true) // a run with -limit 5
	require.NoError(t, err)
	assert.Equal(t, int64(5), v.Limit)
	limit, err := client.Get(ctx, andromeda.LimitKey(usageKey(seed.ID))).Int64()
	require.NoError(t, err)
	assert.Equal(t, int64(5), limit, "the limit kept in Redis changed too")
	for _, user := range []string{"c", "d", "e"} {
		require.NoError(t, claim(user), "claim %s within the new limit", user)
	}
	assert.ErrorIs(t, claim("f"), andromeda.ErrQuotaLimitExceeded)
}

// SIGTERM stops the service gracefully: the server shuts down and the usage is written
// back to the database one last time.
func TestSIGTERMStopsGracefully(t *testing.T) {
	ctx, stop := stopSignals()
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dbPath := filepath.Join(t.TempDir(), "voucher.db")
	conf := config{sqlitePath: dbPath, syncEvery: time.Hour,
		seed: Voucher{ID: "voucher-HEMAT", Code: "HEMAT", Limit: 3, EndsAt: time.Now().Add(time.Hour)}}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, conf, ln) }()

	url := "http://" + ln.Addr().String()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "ready")
	status, _, _ := send(t, http.MethodPost, url+"/vouchers/HEMAT/claim", `{"user_id":"ann"}`)
	require.Equal(t, http.StatusCreated, status)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the service")
	}
	_, err = http.Get(url + "/healthz")
	assert.Error(t, err, "the server is closed")

	st, err := openStore(context.Background(), "", dbPath)
	require.NoError(t, err)
	defer st.db.Close()
	v, err := st.FindByID(context.Background(), "voucher-HEMAT")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v.Usage, "the last sync wrote the usage back")
}
