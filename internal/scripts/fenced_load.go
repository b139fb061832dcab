package scripts

import _ "embed"

// FencedLoad sets a loaded value if absent, only while the loader's lock still holds its
// token, and deletes the keys derived from the old value (see fenced_load.lua).
//
//go:embed fenced_load.lua
var FencedLoad string

// Replies of FencedLoad.
const (
	FencedSet     = 1  // the value was set
	FencedPresent = 0  // the key was present: nothing written
	FencedLost    = -1 // the lock is no longer held: nothing written
)

// FencedLoadArgs returns FencedLoad's KEYS and ARGV: set key to value with an expiration
// of ms (0: none) while lockKey holds token, deleting drop when it sets.
func FencedLoadArgs(lockKey, token, key string, value, ms int64, drop []string) (keys []string, args []any) {
	keys = make([]string, 0, 2+len(drop))
	keys = append(keys, lockKey, key)
	keys = append(keys, drop...)
	return keys, []any{token, value, ms}
}
