package andromeda_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// benchBackends are miniredis and a real redis-server started for the benchmark.
func benchBackends(b *testing.B) []backend {
	server := redistest.Standalone(b)
	return []backend{
		miniredisBackend(b),
		newBackend(b, "redis", redis.NewClient(&redis.Options{Addr: server.Addr, PoolSize: 64}), true),
	}
}

var noopListener = andromeda.ListenerFuncs{}

// BenchmarkAdd measures one add per op, from 64 goroutines (GOMAXPROCS x parallelism).
func BenchmarkAdd(b *testing.B) {
	for _, be := range benchBackends(b) {
		db := newQuotaDB()
		db.put("warm", andromeda.MaxAmount, 0)
		db.put("next", andromeda.MaxAmount, 0)
		second := newAdd(be, db, nil)
		cases := []struct {
			name string
			conf func(*andromeda.AddQuotaUsageConfig)
		}{
			{"warm", nil},
			{"listener", func(c *andromeda.AddQuotaUsageConfig) { c.Option.Listener = noopListener }},
			{"next", func(c *andromeda.AddQuotaUsageConfig) {
				c.Next = andromeda.UpdateQuotaUsageFunc(func(ctx context.Context, _ *andromeda.QuotaUsageRequest) (int64, error) {
					return second.Do(ctx, req("next", 1))
				})
			}},
			{"coalesced", func(c *andromeda.AddQuotaUsageConfig) { c.Option.Coalesce = true }},
			{"events", func(c *andromeda.AddQuotaUsageConfig) {
				c.Option.Listener = doneFunc(func(context.Context, andromeda.Event) {})
			}},
			{"slog", func(c *andromeda.AddQuotaUsageConfig) {
				c.Option.Listener = andromeda.SlogListener{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			}},
		}
		for _, tc := range cases {
			b.Run(be.name+"/"+tc.name, func(b *testing.B) {
				add := newAdd(be, db, tc.conf)
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

		// A campaign's quota and a user's, in one script.
		b.Run(be.name+"/two-quotas", func(b *testing.B) {
			claim := andromeda.AddMultiQuotaUsage(andromeda.MultiQuotaUsageConfig{Cache: be.cache, Quotas: campaignQuotas(andromeda.MaxAmount, andromeda.MaxAmount, db)})
			be.set(b, "{campaign-42}:usage", 0)
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				r := &andromeda.QuotaUsageRequest{QuotaID: "campaign-42", Usage: 1, Data: "ann"}
				for pb.Next() {
					if _, err := claim.Do(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})

		// Each add with its own idempotency key: the record is written with the usage.
		b.Run(be.name+"/idempotent", func(b *testing.B) {
			add := newAdd(be, db, nil)
			be.set(b, keyOf("warm"), 0)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := add.Do(context.Background(), idem("warm", 1, fmt.Sprint("order-", n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})

		// A cold key per op: the script reports it missing, the usage is loaded under the
		// lock and written, and the add retried.
		b.Run(be.name+"/cold", func(b *testing.B) {
			add := newAdd(be, newQuotaDB(), func(c *andromeda.AddQuotaUsageConfig) {
				c.GetQuotaLimit = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 10, nil })
				c.GetQuotaUsage = andromeda.GetQuotaFunc(func(context.Context, *andromeda.QuotaRequest) (int64, error) { return 0, nil })
			})
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := add.Do(context.Background(), req(fmt.Sprint("cold-", n.Add(1)), 1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkReduce measures one reduce per op on a warm key, from 64 goroutines.
func BenchmarkReduce(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			reduce := newReduce(be, newQuotaDB(), nil)
			be.set(b, keyOf("warm"), andromeda.MaxAmount)
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				r := req("warm", 1)
				for pb.Next() {
					if _, err := reduce.Do(context.Background(), r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRawIncrBy is the floor to compare with: the client's own INCRBY.
func BenchmarkRawIncrBy(b *testing.B) {
	for _, be := range benchBackends(b) {
		b.Run(be.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := be.client.IncrBy(context.Background(), "raw", 1).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
