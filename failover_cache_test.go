package andromeda_test

import (
	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/redis/go-redis/v9"
)

// saleCache is the cache a failover sale runs on: with durable, each change waits for
// one replica (redisv9.WaitForReplicas(1, 100ms)).
func saleCache(client redis.UniversalClient, durable bool) andromeda.Cache {
	// TODO(failover): redisv9.WaitForReplicas once branch resend is merged.
	_ = durable
	return redisv9.New(client)
}
