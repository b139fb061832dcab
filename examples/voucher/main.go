// Command voucher is the spec's voucher walk-through as a small HTTP service: vouchers and
// claim histories in SQL (SQLite by default, PostgreSQL with -postgres), usage in Redis
// through andromeda (an embedded Redis by default, a real one with -redis).
//
//	go run ./examples/voucher
//	curl -X POST localhost:8080/vouchers/HEMAT/claim -d '{"user_id":"u-1"}'
//	curl localhost:8080/vouchers/HEMAT
//
// POST /vouchers/{code}/claim and /unclaim take {"user_id": "..."}; GET /vouchers/{code}
// shows the limit and usage. A claim answers 201, or 409 when the quota is exhausted or
// the user has claimed already, 404 for an unknown code, 400 for a bad body.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve HTTP on")
	redisAddr := flag.String("redis", "", "address of a Redis server (default: an embedded one)")
	postgres := flag.String("postgres", "", "PostgreSQL DSN, e.g. postgres://postgres@127.0.0.1:5432/test (default: SQLite)")
	sqlitePath := flag.String("sqlite", filepath.Join(os.TempDir(), "andromeda-voucher.db"), "SQLite database file")
	syncEvery := flag.Duration("sync-interval", 10*time.Second, "how often usage is written back from Redis to the database")
	code := flag.String("code", "HEMAT", "code of the voucher created at start")
	limit := flag.Int64("limit", 100, "claims allowed for that voucher")
	campaign := flag.Duration("campaign", 72*time.Hour, "how long that voucher's campaign runs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, config{
		addr: *addr, redisAddr: *redisAddr, postgres: *postgres, sqlitePath: *sqlitePath,
		syncEvery: *syncEvery, seed: Voucher{ID: "voucher-" + *code, Code: *code, Limit: *limit, EndsAt: time.Now().Add(*campaign)},
	}); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	addr, redisAddr, postgres, sqlitePath string
	syncEvery                             time.Duration
	seed                                  Voucher
}

func run(ctx context.Context, conf config) error {
	if conf.redisAddr == "" {
		embedded, err := miniredis.Run()
		if err != nil {
			return err
		}
		defer embedded.Close()
		conf.redisAddr = embedded.Addr()
	}
	client := redis.NewClient(&redis.Options{Addr: conf.redisAddr})
	defer client.Close()

	st, err := openStore(ctx, conf.postgres, conf.sqlitePath)
	if err != nil {
		return err
	}
	defer st.db.Close()
	if err := st.addVoucher(ctx, conf.seed); err != nil {
		return err
	}

	cache := redisv9.New(client)
	svc := &service{store: st, cache: cache, quotas: newQuotas(cache, st)}
	go svc.runSync(ctx, conf.syncEvery, log.Printf)

	server := &http.Server{Addr: conf.addr, Handler: svc.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	log.Printf("voucher %q (limit %d) served on http://%s", conf.seed.Code, conf.seed.Limit, conf.addr)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// One last sync, so the database has the final usage.
	_, err = svc.syncUsage(context.Background())
	return err
}
