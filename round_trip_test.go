package andromeda_test

import (
	"context"
	"sync"
	"testing"

	"github.com/ramadani/andromeda"
	"github.com/ramadani/andromeda/cache/redisv9"
	"github.com/ramadani/andromeda/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commandLog records the commands a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.names
	l.names = nil
	return names
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.names = append(l.names, cmd.Name())
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		for _, cmd := range cmds {
			l.names = append(l.names, cmd.Name())
		}
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

// An add or a reduce on a warm key is one round trip: a single EVALSHA.
func TestWarmKeyIsOneRoundTrip(t *testing.T) {
	server := redistest.Standalone(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer client.Close()
	log := &commandLog{}
	client.AddHook(log)
	b := backend{name: "standalone", client: client, cache: redisv9.New(client)}
	db := newQuotaDB()
	db.put("v1", 100, 10)
	add, reduce := newAdd(b, db, nil), newReduce(b, db, nil)
	ctx := context.Background()

	_, err := add.Do(ctx, req("v1", 1)) // loads the key and the script
	require.NoError(t, err)
	_, err = reduce.Do(ctx, req("v1", 1))
	require.NoError(t, err)
	log.take()

	for _, u := range []andromeda.UpdateQuotaUsage{add, reduce} {
		_, err := u.Do(ctx, req("v1", 1))
		require.NoError(t, err)
		assert.Equal(t, []string{"evalsha"}, log.take())
	}
}
