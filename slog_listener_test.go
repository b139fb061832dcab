package andromeda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramadani/andromeda"
)

// logRecords parses the JSON lines a slog.JSONHandler wrote.
func logRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		records = append(records, r)
	}
	buf.Reset()
	return records
}

// Each Do is one record, at a level that says how it ended, with what it changed.
func TestSlogListenerLogsEachDo(t *testing.T) {
	b := miniredisBackend(t)
	db := newQuotaDB()
	db.put("v1", 10, 3)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	add := newAdd(b, db, func(c *andromeda.AddQuotaUsageConfig) {
		c.Option.Listener = andromeda.SlogListener{Logger: logger}
	})
	ctx := context.Background()

	_, err := add.Do(ctx, req("v1", 2))
	require.NoError(t, err)
	records := logRecords(t, &buf)
	require.Len(t, records, 1)
	r := records[0]
	assert.Equal(t, "DEBUG", r["level"])
	assert.Equal(t, "andromeda add", r["msg"])
	assert.Equal(t, "v1", r["quota"])
	assert.Equal(t, keyOf("v1"), r["key"])
	assert.EqualValues(t, 2, r["amount"])
	assert.EqualValues(t, 5, r["usage"])
	assert.EqualValues(t, 10, r["limit"])
	assert.Equal(t, "ok", r["outcome"])
	assert.EqualValues(t, 1, r["loads"])
	assert.NotContains(t, r, "error")

	_, err = add.Do(ctx, req("v1", 20))
	require.Error(t, err)
	records = logRecords(t, &buf)
	require.Len(t, records, 1)
	r = records[0]
	assert.Equal(t, "INFO", r["level"])
	assert.Equal(t, "refused", r["outcome"])
	assert.Equal(t, "quota_limit_exceeded", r["cause"])
	assert.Equal(t, err.Error(), r["error"])
	assert.NotContains(t, r, "loads", "no count that is zero")

	_, err = add.Do(ctx, req("unknown-quota", 1))
	require.Error(t, err)
	records = logRecords(t, &buf)
	require.Len(t, records, 1)
	assert.Equal(t, "ERROR", records[0]["level"])
	assert.Equal(t, "quota_not_found", records[0]["cause"])
}

// An unknown outcome is a warning by default; Level chooses otherwise, and records below
// the handler's level cost nothing.
func TestSlogListenerLevels(t *testing.T) {
	b := miniredisBackend(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil)) // Info and above
	cache := lostReplies(b, 1)
	add := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("u"), Option: andromeda.AddUsageOption{Listener: andromeda.SlogListener{Logger: logger}}})
	ctx := context.Background()

	_, err := add.Do(ctx, req("q", 1))
	require.ErrorIs(t, err, andromeda.ErrUnknownOutcome)
	records := logRecords(t, &buf)
	require.Len(t, records, 1)
	assert.Equal(t, "WARN", records[0]["level"])
	assert.EqualValues(t, 1, records[0]["unknown_outcomes"])

	_, err = add.Do(ctx, req("q", 1))
	require.NoError(t, err)
	assert.Empty(t, logRecords(t, &buf), "a success is logged at Debug")

	loud := andromeda.AddQuotaUsage(andromeda.AddQuotaUsageConfig{Cache: b.cache, GetQuotaLimit: constLimit(10),
		GetQuotaUsageKey: constKey("u"), Option: andromeda.AddUsageOption{Listener: andromeda.SlogListener{Logger: logger,
			Level: func(andromeda.Event) slog.Level { return slog.LevelError }}}})
	_, err = loud.Do(ctx, req("q", 1))
	require.NoError(t, err)
	records = logRecords(t, &buf)
	require.Len(t, records, 1)
	assert.Equal(t, "ERROR", records[0]["level"])
}

// Called directly (by a caller that does not know events), it logs what it is told.
func TestSlogListenerWithoutEvent(t *testing.T) {
	var buf bytes.Buffer
	l := andromeda.SlogListener{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	l.OnError(context.Background(), req("q", 4), andromeda.ErrQuotaLimitExceeded)
	records := logRecords(t, &buf)
	require.Len(t, records, 1)
	assert.Equal(t, "q", records[0]["quota"])
	assert.EqualValues(t, 4, records[0]["amount"])
	assert.Equal(t, "refused", records[0]["outcome"])
}
