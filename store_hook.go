package andromeda

import (
	"context"
	"time"

	"github.com/ramadani/andromeda/internal/storehook"
)

func init() {
	storehook.New = func(cache any) any { return hookedStore{newStore(cache.(Cache))} }
}

// hookedStore is the store as cache/cachetest sees it: its lock as an interface.
type hookedStore struct{ *store }

func (s hookedStore) Lock(ctx context.Context, key string, ttl time.Duration) (interface {
	SetUsageIfAbsent(ctx context.Context, args loadArgs) (bool, error)
	Release(ctx context.Context) error
}, error) {
	l, err := s.store.Lock(ctx, key, ttl)
	if err != nil {
		return nil, err
	}
	return l, nil
}
