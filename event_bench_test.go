package andromeda_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/ramadani/andromeda"
)

// BenchmarkAddObserved measures a warm add whose listener gets events: one that does
// nothing with them, and a SlogListener writing every record.
func BenchmarkAddObserved(b *testing.B) {
	for _, be := range benchBackends(b) {
		db := newQuotaDB()
		db.put("warm", andromeda.MaxAmount, 0)
		listeners := []struct {
			name     string
			listener andromeda.UpdateQuotaUsageListener
		}{
			{"events", doneFunc(func(context.Context, andromeda.Event) {})},
			{"slog", andromeda.SlogListener{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))}},
		}
		for _, l := range listeners {
			b.Run(be.name+"/"+l.name, func(b *testing.B) {
				add := newAdd(be, db, func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = l.listener })
				be.set(b, keyOf("warm"), 0)
				b.ReportAllocs()
				b.SetParallelism(32)
				b.RunParallel(func(pb *testing.PB) {
					r := req("warm", 1)
					for pb.Next() {
						if _, err := add.Do(context.Background(), r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
