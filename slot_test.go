package andromeda

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeySlotMatchesRedis(t *testing.T) {
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	assert.Equal(t, uint16(0x31C3), crc16("123456789"))
	assert.Equal(t, 12182, keySlot("foo"))
	assert.Equal(t, keySlot("user1000"), keySlot("{user1000}.following"))
	assert.Equal(t, keySlot("{}x"), int(crc16("{}x")%slotCount), "an empty tag hashes the whole key")
	assert.Equal(t, keySlot("a}b"), int(crc16("a}b")%slotCount), "no tag without a {")
}

func TestSlotTagCoversEverySlot(t *testing.T) {
	for slot := 0; slot < slotCount; slot++ {
		tag := slotTag(slot)
		require.NotEmpty(t, tag)
		require.LessOrEqual(t, len(tag), 4)
		require.Equal(t, slot, keySlot("{"+tag+"}"), "tag %q", tag)
	}
}

func TestSameSlotKeyForOddKeys(t *testing.T) {
	for _, key := range []string{"voucher-1", "{t}usage", "a}b", "}", "{}x", "x}{y", "{a", "}{}", "{", "a{b}c}d", "{}", "}}{{"} {
		for _, suffix := range []string{":limit", ":idempotency:add:k", lockSuffix} {
			companion := sameSlotKey(key, suffix)
			assert.Equal(t, keySlot(key), keySlot(companion), "%q and %q", key, companion)
		}
	}
	assert.Equal(t, "{voucher-1}:limit", LimitKey("voucher-1"), "the documented form is kept")
	assert.Equal(t, "{t}usage:limit", LimitKey("{t}usage"))
}

// Any key a user may pass gets companion keys in its own slot.
func FuzzSameSlotKey(f *testing.F) {
	for _, key := range []string{"voucher-1", "{t}usage", "a}b", "}", "{}x", "x}{y", "{", "{}", "a{b}c}d", "\x00}\xff"} {
		f.Add(key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		for _, suffix := range []string{":limit", ":hold-buckets", lockSuffix} {
			if companion := sameSlotKey(key, suffix); keySlot(companion) != keySlot(key) {
				t.Fatalf("%q is in slot %d, its companion %q in %d", key, keySlot(key), companion, keySlot(companion))
			}
		}
	})
}

// Distinct usage keys never share a companion key ("a" and "{a}" did once).
func FuzzCompanionKeysAreDistinct(f *testing.F) {
	f.Add("a", "{a}")
	f.Add("a}b", "{"+slotTag(keySlot("a}b"))+"}a}b")
	f.Add("", "{"+slotTag(keySlot(""))+"}")
	f.Fuzz(func(t *testing.T, a, b string) {
		if a != b && sameSlotKey(a, ":limit") == sameSlotKey(b, ":limit") {
			t.Fatalf("%q and %q share %q", a, b, sameSlotKey(a, ":limit"))
		}
	})
}
