package andromeda_test

import (
	"time"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

// saleCache is the cache a failover sale runs on: with durable, each change waits for
// one replica's acknowledgement, 100 ms at most.
func saleCache(client redis.UniversalClient, durable bool) andromeda.Cache {
	if durable {
		return redisv9.New(client, redisv9.WaitForReplicas(1, 100*time.Millisecond))
	}
	return redisv9.New(client)
}
