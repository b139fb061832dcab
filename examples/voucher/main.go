// Command voucher is the spec's voucher walk-through as a small HTTP service: vouchers and
// claim histories in SQL (SQLite by default, PostgreSQL with -postgres), usage in Redis
// through andromeda (an embedded Redis by default, a real one with -redis).
//
//	go run ./examples/voucher &
//	until curl -sf localhost:8080/healthz; do sleep 1; done
//	curl -X POST localhost:8080/vouchers/HEMAT/claim -d '{"user_id":"u-1"}'
//	curl localhost:8080/vouchers/HEMAT
//
// POST /vouchers/{code}/claim and /unclaim take {"user_id": "..."}; GET /vouchers/{code}
// shows the limit and usage; GET /healthz answers once the service is ready. A claim
// answers 201, or 409 when the quota is exhausted or the user has claimed already, 404 for
// an unknown code, 400 for a bad body. Every answer is JSON. SIGINT and SIGTERM stop it
// gracefully: requests in flight finish and the usage is written back one last time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/ramadani/andromeda"
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
	limit := flag.Int64("limit", 100, "claims allowed for that voucher; when given, it also replaces the limit of a voucher created by an earlier run")
	campaign := flag.Duration("campaign", 72*time.Hour, "how long that voucher's campaign runs (for a voucher created now)")
	flag.Parse()
	limitGiven := false
	flag.Visit(func(f *flag.Flag) { limitGiven = limitGiven || f.Name == "limit" })

	ctx, stop := stopSignals()
	defer stop()
	if err := run(ctx, config{
		addr: *addr, redisAddr: *redisAddr, postgres: *postgres, sqlitePath: *sqlitePath, syncEvery: *syncEvery,
		seed:     Voucher{ID: "voucher-" + *code, Code: *code, Limit: *limit, EndsAt: time.Now().Add(*campaign)},
		setLimit: limitGiven,
	}); err != nil {
		log.Fatal(err)
	}
}

// stopSignals returns a context that ends on SIGINT (Ctrl-C) or SIGTERM (what a process
// manager such as Kubernetes or systemd sends), so that both shut the service down
// gracefully.
func stopSignals() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

type config struct {
	addr, redisAddr, postgres, sqlitePath string
	syncEvery                             time.Duration
	seed                                  Voucher
	// setLimit makes seed.Limit the limit of a seed voucher that exists already.
	setLimit bool
}

func run(ctx context.Context, conf config) error {
	ln, err := net.Listen("tcp", conf.addr)
	if err != nil {
		return err
	}
	return serve(ctx, conf, ln)
}

// serve serves the voucher API on ln until ctx ends, then shuts down gracefully and writes
// the usage back one last time.
func serve(ctx context.Context, conf config, ln net.Listener) error {
	if conf.redisAddr == "" {
		embedded, err := miniredis.Run()
		if err != nil {
			ln.Close()
			return err
		}
		defer embedded.Close()
		conf.redisAddr = embedded.Addr()
	}
	client := redis.NewClient(&redis.Options{Addr: conf.redisAddr})
	defer client.Close()

	st, err := openStore(ctx, conf.postgres, conf.sqlitePath)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.db.Close()
	cache := redisv9.New(client)
	seed, err := seedVoucher(ctx, st, cache, conf.seed, conf.setLimit)
	if err != nil {
		ln.Close()
		return err
	}

	svc := &service{store: st, cache: cache, quotas: newQuotas(cache, st), logf: log.Printf}
	go svc.runSync(ctx, conf.syncEvery, log.Printf)

	server := &http.Server{Handler: svc.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	log.Printf("voucher %q (limit %d, campaign ends %s) served on http://%s",
		seed.Code, seed.Limit, seed.EndsAt.Format(time.RFC3339), ln.Addr())
	if err := server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// One last sync, so the database has the final usage.
	n, err := svc.syncUsage(context.Background())
	if err != nil {
		return fmt.Errorf("stopped, but the last write-back failed after %d vouchers: %w", n, err)
	}
	log.Printf("stopped; wrote back the usage of %d vouchers", n)
	return nil
}

// seedVoucher creates the voucher the command line describes, or, when a run before
// created it, keeps that one; with setLimit its limit becomes seed.Limit, in the database
// and in Redis, which keeps limits (CacheLimit). It returns the voucher as served.
func seedVoucher(ctx context.Context, st *store, cache andromeda.Cache, seed Voucher, setLimit bool) (*Voucher, error) {
	if err := st.addVoucher(ctx, seed); err != nil {
		return nil, err
	}
	if setLimit {
		if err := st.setLimit(ctx, seed.ID, seed.Limit); err != nil {
			return nil, err
		}
		if err := andromeda.SetQuotaLimit(ctx, cache, usageKey(seed.ID), seed.Limit, limitKeptFor); err != nil {
			return nil, err
		}
	}
	return st.FindByID(ctx, seed.ID)
}
