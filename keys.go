package andromeda

import "strings"

// LimitKey returns the key where AddUsageOption.CacheLimit keeps the limit of the quota
// whose usage is at usageKey. It lies in the same Redis Cluster hash slot as usageKey, so
// one script can read both: usageKey's own hash tag is kept when it has one
// ("{campaign-42}:usage" gives "{campaign-42}:usage:limit"), and otherwise the whole
// usageKey becomes the tag ("voucher-1" gives "{voucher-1}:limit"). Two kinds of key take
// a form of their own, so that no two usage keys share a limit key: a key that is its tag
// and nothing more ("{voucher-1}", whose plain form would be voucher-1's), and a key that
// cannot be a tag because it holds a "}" but no hash tag ("a}b"); each is prefixed with a
// short tag of its slot and closed with a "}" ("{1b2}a}b:limit}").
func LimitKey(usageKey string) string { return sameSlotKey(usageKey, ":limit") }

// sameSlotKey returns key+suffix, made to lie in the same cluster hash slot as key, and
// distinct for distinct keys (see LimitKey).
func sameSlotKey(key, suffix string) string {
	open, end, tagged := hashTag(key)
	switch {
	case tagged && !(open == 0 && end == len(key)-1):
		return key + suffix
	case !tagged && key != "" && !strings.Contains(key, "}"):
		return "{" + key + "}" + suffix
	default:
		// A "}" in the key would end a tag made of it early, an empty tag is no tag, and
		// "{t}" wrapped in nothing more would read as t's: tag it with its slot instead,
		// and end it with a "}" that the other forms never end with.
		return "{" + slotTag(keySlot(key)) + "}" + key + suffix + "}"
	}
}

// recordKey is where the outcome of the op with idempotencyKey on the usage at usageKey is
// recorded: in usageKey's hash slot.
func recordKey(usageKey, op, idempotencyKey string) string {
	return sameSlotKey(usageKey, ":idempotency:"+op+":"+idempotencyKey)
}

// HoldKeys returns the keys that keep the holds of the usage at usageKey, in its cluster
// hash slot: the hash of expiry buckets every usage script on the quota sweeps, and, when
// holdID is not empty, the record of that hold (empty otherwise).
func HoldKeys(usageKey, holdID string) (buckets, hold string) {
	buckets = sameSlotKey(usageKey, ":hold-buckets")
	if holdID != "" {
		hold = sameSlotKey(usageKey, ":hold:"+holdID)
	}
	return buckets, hold
}
