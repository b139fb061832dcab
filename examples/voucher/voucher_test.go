package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postgresDSN, when set, adds PostgreSQL to the databases the tests run on; .ci/run sets it.
var postgresDSN = os.Getenv("VOUCHER_POSTGRES_DSN")

type testService struct {
	*service
	url    string
	client redis.UniversalClient
}

func newTestService(t *testing.T, database, redisKind string) *testService {
	t.Helper()
	ctx := context.Background()
	var addr string
	if redisKind == "miniredis" {
		addr = miniredis.RunT(t).Addr()
	} else {
		addr = redistest.Standalone(t).Addr
	}
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	t.Cleanup(func() { client.Close() })

	dsn := ""
	if database == "postgres" {
		dsn = postgresSchema(t)
	}
	st, err := openStore(ctx, dsn, filepath.Join(t.TempDir(), "voucher.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.db.Close() })

	cache := redisv9.New(client)
	svc := &service{store: st, cache: cache, quotas: newQuotas(cache, st)}
	server := httptest.NewServer(svc.routes())
	t.Cleanup(server.Close)
	return &testService{service: svc, url: server.URL, client: client}
}

// postgresSchema returns a DSN whose tables live in a fresh schema, dropped after t.
func postgresSchema(t *testing.T) string {
	db, err := sql.Open("pgx", postgresDSN)
	require.NoError(t, err)
	defer db.Close()
	schema := fmt.Sprintf("voucher_test_%d", time.Now().UnixNano())
	_, err = db.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sql.Open("pgx", postgresDSN)
		if err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(postgresDSN, "?") {
		sep = "&"
	}
	return postgresDSN + sep + "search_path=" + schema
}

func (s *testService) post(t *testing.T, path, body string) (int, map[string]interface{}) {
	t.Helper()
	resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]interface{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func (s *testService) countRows(t *testing.T, voucherID string) int64 {
	n, err := s.store.countClaims(context.Background(), voucherID)
	require.NoError(t, err)
	return n
}

func setups(t *testing.T) []string {
	list := []string{"sqlite+miniredis", "sqlite+redis"}
	switch {
	case postgresDSN != "":
		list = append(list, "postgres+redis")
	case os.Getenv("CI") != "":
		t.Fatal("VOUCHER_POSTGRES_DSN is not set: CI runs the voucher tests on PostgreSQL too")
	}
	return list
}

// Concurrent claims, more than the limit and some by the same user twice: exactly
// min(limit, distinct users) are admitted, and Redis, the histories and (after a sync)
// the database all agree.
func TestConcurrentClaims(t *testing.T) {
	for _, setup := range setups(t) {
		for _, tc := range []struct {
			limit, users, twice int
		}{
			{limit: 40, users: 60, twice: 15}, // more users than vouchers
			{limit: 40, users: 30, twice: 10}, // fewer users than vouchers
		} {
			name := fmt.Sprintf("%s/limit=%d,users=%d", setup, tc.limit, tc.users)
			t.Run(name, func(t *testing.T) {
				database, redisKind, _ := strings.Cut(setup, "+")
				s := newTestService(t, database, redisKind)
				voucher := Voucher{ID: "v-1", Code: "HEMAT", Limit: int64(tc.limit), EndsAt: time.Now().Add(time.Hour)}
				require.NoError(t, s.store.addVoucher(context.Background(), voucher))

				var claims []string
				for u := 0; u < tc.users; u++ {
					claims = append(claims, fmt.Sprint("user-", u))
					if u < tc.twice {
						claims = append(claims, fmt.Sprint("user-", u))
					}
				}
				var created, conflicts atomic.Int64
				var wg sync.WaitGroup
				sem := make(chan struct{}, 16)
				for _, user := range claims {
					wg.Add(1)
					sem <- struct{}{}
					go func(user string) {
						defer func() { <-sem; wg.Done() }()
						status, body := s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"`+user+`"}`)
						switch status {
						case http.StatusCreated:
							created.Add(1)
						case http.StatusConflict:
							conflicts.Add(1)
						default:
							t.Errorf("claim by %s: %d %v", user, status, body)
						}
					}(user)
				}
				wg.Wait()

				want := int64(min(tc.limit, tc.users))
				assert.Equal(t, want, created.Load(), "claims admitted")
				assert.Equal(t, int64(len(claims))-want, conflicts.Load())
				assert.Equal(t, want, s.countRows(t, "v-1"), "history rows")
				usage, err := s.client.Get(context.Background(), usageKey("v-1")).Int64()
				require.NoError(t, err)
				assert.Equal(t, want, usage, "usage in Redis")
				assert.Equal(t, int64(1), s.quotas.limitReads.Load(), "the limit is read from Redis, not the database, per claim")

				synced, err := s.syncUsage(context.Background())
				require.NoError(t, err)
				assert.Equal(t, 1, synced)
				v, err := s.store.FindByID(context.Background(), "v-1")
				require.NoError(t, err)
				assert.Equal(t, want, v.Usage, "database usage after sync")
			})
		}
	}
}

func TestClaimUnclaimAndStatus(t *testing.T) {
	for _, setup := range setups(t) {
		t.Run(setup, func(t *testing.T) {
			database, redisKind, _ := strings.Cut(setup, "+")
			s := newTestService(t, database, redisKind)
			ends := time.Now().Add(48 * time.Hour)
			require.NoError(t, s.store.addVoucher(context.Background(), Voucher{ID: "v-1", Code: "HEMAT", Limit: 2, EndsAt: ends}))

			status, body := s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"ann"}`)
			require.Equal(t, http.StatusCreated, status, body)
			assert.Equal(t, "ann", body["user_id"])
			assert.Equal(t, "v-1", body["voucher_id"])

			ttl, err := s.client.PTTL(context.Background(), usageKey("v-1")).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, 48*time.Hour, "usage outlives the campaign")

			status, _ = s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"ann"}`)
			assert.Equal(t, http.StatusConflict, status, "a user claims once")
			status, _ = s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"bob"}`)
			assert.Equal(t, http.StatusCreated, status)
			status, body = s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"cat"}`)
			assert.Equal(t, http.StatusConflict, status, "the quota is exhausted")
			assert.Equal(t, msgExhausted, body["error"])

			status, body = s.post(t, "/vouchers/HEMAT/unclaim", `{"user_id":"ann"}`)
			require.Equal(t, http.StatusOK, status, body)
			assert.Equal(t, float64(1), body["usage"])
			status, _ = s.post(t, "/vouchers/HEMAT/unclaim", `{"user_id":"ann"}`)
			assert.Equal(t, http.StatusNotFound, status, "nothing left to unclaim")
			status, _ = s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"cat"}`)
			assert.Equal(t, http.StatusCreated, status, "the unclaimed voucher is free again")

			resp, err := http.Get(s.url + "/vouchers/HEMAT")
			require.NoError(t, err)
			var st VoucherStatus
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
			resp.Body.Close()
			assert.Equal(t, VoucherStatus{Code: "HEMAT", Limit: 2, Usage: 2, Remaining: 0, EndsAt: time.Unix(ends.Unix(), 0).UTC()}, st)
			assert.Equal(t, int64(2), s.countRows(t, "v-1"))

			for _, tc := range []struct {
				path, body string
				want       int
			}{
				{"/vouchers/NOPE/claim", `{"user_id":"ann"}`, http.StatusNotFound},
				{"/vouchers/NOPE/unclaim", `{"user_id":"ann"}`, http.StatusNotFound},
				{"/vouchers/HEMAT/claim", `{"user_id":""}`, http.StatusBadRequest},
				{"/vouchers/HEMAT/claim", `not json`, http.StatusBadRequest},
				{"/vouchers/HEMAT/claim", `{"user":"ann"}`, http.StatusBadRequest},
			} {
				resp, err := http.Post(s.url+tc.path, "application/json", bytes.NewBufferString(tc.body))
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tc.want, resp.StatusCode, "%s %s", tc.path, tc.body)
			}
			resp, err = http.Get(s.url + "/vouchers/NOPE")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}

// When Redis lost the usage, it is reloaded from the claims the database kept, and the
// sync job never writes a zero for a voucher Redis does not hold.
func TestUsageReloadsFromClaimsAndSyncSkipsAbsentKeys(t *testing.T) {
	s := newTestService(t, "sqlite", "miniredis")
	ctx := context.Background()
	require.NoError(t, s.store.addVoucher(ctx, Voucher{ID: "v-1", Code: "HEMAT", Limit: 3, EndsAt: time.Now().Add(time.Hour)}))
	for _, user := range []string{"a", "b"} {
		status, _ := s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"`+user+`"}`)
		require.Equal(t, http.StatusCreated, status)
	}
	_, err := s.syncUsage(ctx)
	require.NoError(t, err)
	require.NoError(t, s.client.Del(ctx, usageKey("v-1")).Err()) // Redis restarted empty

	synced, err := s.syncUsage(ctx)
	require.NoError(t, err)
	assert.Zero(t, synced)
	v, err := s.store.FindByID(ctx, "v-1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), v.Usage, "no stale zero written")

	status, _ := s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"c"}`)
	assert.Equal(t, http.StatusCreated, status)
	status, _ = s.post(t, "/vouchers/HEMAT/claim", `{"user_id":"d"}`)
	assert.Equal(t, http.StatusConflict, status, "2 claims were reloaded, so only 1 more fits")
}
