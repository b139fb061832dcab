package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func smallSale() saleConfig {
	return saleConfig{Items: 150, Buyers: 1500, Concurrency: 32, FailRate: 0.1, Seed: 7, Key: saleKey}
}

func TestFlashSale(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) options
	}{
		{"embedded", func(t *testing.T) options { return options{client: "v9"} }},
		{"embedded-v8", func(t *testing.T) options { return options{client: "v8"} }},
		{"standalone", func(t *testing.T) options {
			return options{client: "v9", redisAddr: redistest.Standalone(t).Addr}
		}},
		{"standalone-v8", func(t *testing.T) options {
			return options{client: "v8", redisAddr: redistest.Standalone(t).Addr}
		}},
		{"standalone-coalesced", func(t *testing.T) options {
			return options{client: "v9", redisAddr: redistest.Standalone(t).Addr, sale: saleConfig{Coalesce: true}}
		}},
		{"cluster", func(t *testing.T) options {
			return options{client: "v9", clusterAddrs: strings.Join(cluster.Get(t).Addrs(), ",")}
		}},
		{"embedded-rueidis", func(t *testing.T) options { return options{client: "rueidis"} }},
		{"standalone-rueidis-coalesced", func(t *testing.T) options {
			return options{client: "rueidis", redisAddr: redistest.Standalone(t).Addr, sale: saleConfig{Coalesce: true}}
		}},
		{"cluster-rueidis", func(t *testing.T) options {
			return options{client: "rueidis", clusterAddrs: strings.Join(cluster.Get(t).Addrs(), ",")}
		}},
		{"standalone-valkey", func(t *testing.T) options {
			return options{client: "valkey", redisAddr: redistest.Standalone(t).Addr}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts(t)
			coalesce := opts.sale.Coalesce
			opts.sale = smallSale()
			opts.sale.Coalesce = coalesce
			var out bytes.Buffer
			require.NoError(t, run(&out, opts), out.String())
			assert.Regexp(t, regexp.MustCompile(`(?m)^oversold\s+0$`), out.String())
			assert.Regexp(t, regexp.MustCompile(`(?m)^sold\s+150\s`), out.String(), "1,500 buyers for 150 items sell out")
			assert.Regexp(t, regexp.MustCompile(`(?m)^errors\s+0$`), out.String())
			assert.Regexp(t, regexp.MustCompile(`(?m)^final usage vs sold\s+150 vs 150\s+ok$`), out.String())
			assert.Regexp(t, regexp.MustCompile(`(?m)^orders rolled back\s+[1-9]`), out.String(), "some orders fail and give their stock back")
		})
	}
}

// The sale's own bookkeeping must add up: every buyer ends in exactly one bucket.
func TestSaleAccountsForEveryBuyer(t *testing.T) {
	opts := options{client: "v9", sale: smallSale()}
	cache, _, closeCache, err := connect(opts)
	require.NoError(t, err)
	defer closeCache()
	r, err := runSale(t.Context(), cache, opts.sale)
	require.NoError(t, err)
	assert.Equal(t, int64(opts.sale.Buyers), r.Orders+r.SoldOut+r.RolledBack+r.Errors)
	assert.True(t, r.Consistent())
	assert.Len(t, r.Latencies, opts.sale.Buyers)
	assert.LessOrEqual(t, r.percentile(0.5), r.percentile(0.99))
}

func TestBadOptions(t *testing.T) {
	for _, opts := range []options{
		{client: "v7", sale: smallSale()},
		{client: "v9", sale: saleConfig{Items: 1, Buyers: 1, Concurrency: 0}},
		{client: "v9", sale: saleConfig{Items: 1, Buyers: 1, Concurrency: 1, FailRate: 2}},
		{client: "v9", redisAddr: "127.0.0.1:1", sale: smallSale()},
	} {
		var out bytes.Buffer
		assert.Error(t, run(&out, opts), "%+v", opts)
	}
}

// Running the demo again with the same seed on the same Redis, with either client, sells
// out again: the orders of the last run are not replayed from their idempotency records
// (they were, when order IDs came from the seed alone: Redis counted 0 against 500 sold).
func TestSaleRunTwiceWithTheSameSeed(t *testing.T) {
	addr := redistest.Standalone(t).Addr
	for _, client := range []string{"v9", "v8", "v9"} {
		var out bytes.Buffer
		require.NoError(t, run(&out, options{client: client, redisAddr: addr, sale: smallSale()}), out.String())
		assert.Regexp(t, regexp.MustCompile(`(?m)^final usage vs sold\s+150 vs 150\s+ok$`), out.String())
	}
}
