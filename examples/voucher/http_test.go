package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramadani/andromeda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send makes a request and returns its status, headers and body, checking that the body
// is JSON.
func send(t *testing.T, method, url, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s %s", method, url)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out), "%s %s: the body is JSON", method, url)
	return resp.StatusCode, resp.Header, out
}

func TestEveryAnswerIsJSON(t *testing.T) {
	s := newTestService(t, "sqlite", "miniredis")
	require.NoError(t, s.store.addVoucher(context.Background(), Voucher{ID: "v-1", Code: "HEMAT", Limit: 2, EndsAt: time.Now().Add(time.Hour)}))

	status, _, body := send(t, http.MethodGet, s.url+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"status": "ok"}, body)

	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/vouchers/HEMAT/claim", http.StatusMethodNotAllowed, "POST"},
		{http.MethodDelete, "/vouchers/HEMAT", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
		{http.MethodPost, "/vouchers/HEMAT/claim/more", http.StatusNotFound, ""},
		{http.MethodGet, "/", http.StatusNotFound, ""},
	} {
		status, header, body := send(t, tc.method, s.url+tc.path, `{"user_id":"ann"}`)
		assert.Equal(t, tc.want, status, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, header.Get("Allow"), "%s %s", tc.method, tc.path)
		assert.NotEmpty(t, body["error"], "%s %s", tc.method, tc.path)
	}
}

func TestStrictJSONBodies(t *testing.T) {
	s := newTestService(t, "sqlite", "miniredis")
	require.NoError(t, s.store.addVoucher(context.Background(), Voucher{ID: "v-1", Code: "HEMAT", Limit: 10, EndsAt: time.Now().Add(time.Hour)}))
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"user_id":"a"}{"user_id":"b"}`, http.StatusBadRequest}, // a second object
		{`{"user_id":"a"} x`, http.StatusBadRequest},              // trailing garbage
		{`{"user_id":"a"}]`, http.StatusBadRequest},
		{`{"user_id":"a","admin":true}`, http.StatusBadRequest}, // an unknown field
		{`["a"]`, http.StatusBadRequest},
		{``, http.StatusBadRequest},
		{`{"user_id":"` + strings.Repeat("a", 2000) + `"}`, http.StatusRequestEntityTooLarge},
		{"{\"user_id\":\"a\"}\n  \n", http.StatusCreated}, // white space after the object is fine
	} {
		status, _, body := send(t, http.MethodPost, s.url+"/vouchers/HEMAT/claim", tc.body)
		assert.Equal(t, tc.want, status, "body %.40q: %v", tc.body, body)
	}
	assert.Equal(t, int64(1), s.countRows(t, "v-1"), "only the well-formed claim was recorded")
}

// Errors answer what happened in the service's words: no Redis key, limit or library
// text; the full error goes to the log.
func TestErrorsDoNotExposeInternals(t *testing.T) {
	s := newTestService(t, "sqlite", "redis")
	var mu sync.Mutex
	var logged []string
	s.logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	ctx := context.Background()
	require.NoError(t, s.store.addVoucher(ctx, Voucher{ID: "v-1", Code: "HEMAT", Limit: 1, EndsAt: time.Now().Add(time.Hour)}))
	status, _, _ := send(t, http.MethodPost, s.url+"/vouchers/HEMAT/claim", `{"user_id":"ann"}`)
	require.Equal(t, http.StatusCreated, status)

	internals := []string{usageKey("v-1"), "voucher-quota", "limit 1", "usage 1", "andromeda", "quota limit exceeded", "redis"}
	assertClean := func(what string, body map[string]any) {
		t.Helper()
		msg, _ := body["error"].(string)
		for _, internal := range internals {
			assert.NotContains(t, strings.ToLower(msg), strings.ToLower(internal), what)
		}
	}
	status, _, body := send(t, http.MethodPost, s.url+"/vouchers/HEMAT/claim", `{"user_id":"bob"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, msgExhausted, body["error"])
	assertClean("exhausted", body)
	status, _, body = send(t, http.MethodPost, s.url+"/vouchers/HEMAT/claim", `{"user_id":"ann"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, errAlreadyClaimed.Error(), body["error"])
	status, _, body = send(t, http.MethodPost, s.url+"/vouchers/NOPE/claim", `{"user_id":"ann"}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, errUnknownVoucher.Error(), body["error"])

	// Something else wrote the usage key: a 500 that says no more, and a log that says all.
	require.NoError(t, s.client.Set(ctx, usageKey("v-1"), "garbage", 0).Err())
	status, _, body = send(t, http.MethodPost, s.url+"/vouchers/HEMAT/claim", `{"user_id":"cat"}`)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, msgInternal, body["error"])
	assertClean("internal", body)
	status, _, body = send(t, http.MethodGet, s.url+"/vouchers/HEMAT", "")
	assert.Equal(t, http.StatusInternalServerError, status)
	assertClean("status", body)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, logged, 2)
	assert.Contains(t, logged[0], usageKey("v-1"), "the log names the key")
	assert.Contains(t, logged[0], "garbage")
}

// The library's errors that say "try again" answer 503 with the public text, whatever
// their wording; a refusal answers 409; anything else 500.
func TestWriteErrorStatuses(t *testing.T) {
	s := &service{logf: func(string, ...any) {}}
	for err, want := range map[error]int{
		fmt.Errorf("claim: %w", andromeda.ErrUnknownOutcome):     http.StatusServiceUnavailable,
		fmt.Errorf("claim: %w", andromeda.ErrRedisUnavailable):   http.StatusServiceUnavailable,
		fmt.Errorf("claim: %w", andromeda.ErrMaxRetryExceeded):   http.StatusServiceUnavailable,
		fmt.Errorf("claim: %w", andromeda.ErrQuotaLimitExceeded): http.StatusConflict,
		errors.New("disk on fire"):                               http.StatusInternalServerError,
	} {
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest(http.MethodPost, "/vouchers/X/claim", nil), err)
		assert.Equal(t, want, rec.Code, "%v", err)
		assert.NotContains(t, rec.Body.String(), "claim:", "%v: no library text", err)
	}
}
