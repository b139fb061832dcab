package andromeda

import "strings"

// LimitKey returns the key where AddUsageOption.CacheLimit keeps the limit of the quota
// whose usage is at usageKey. It lies in the same Redis Cluster hash slot as usageKey, so
// one script can read both: usageKey's own hash tag is kept when it has one, and otherwise
// the whole usageKey becomes the tag ("voucher-1" gives "{voucher-1}:limit"). A usageKey
// that cannot be a tag, because it holds a "}" but no hash tag ("a}b"), is prefixed with a
// short tag of its own slot instead ("{1b2}a}b:limit").
func LimitKey(usageKey string) string { return sameSlotKey(usageKey, ":limit") }

// sameSlotKey returns key+suffix, made to lie in the same cluster hash slot as key.
func sameSlotKey(key, suffix string) string {
	switch {
	case hasHashTag(key):
		return key + suffix
	case key != "" && !strings.Contains(key, "}"):
		return "{" + key + "}" + suffix
	default:
		// A "}" in the key would end a tag made of it early, and an empty tag is no tag:
		// tag it with its slot instead.
		return "{" + slotTag(keySlot(key)) + "}" + key + suffix
	}
}

// hasHashTag reports whether Redis Cluster hashes key by a tag: the text between the
// first "{" and the first "}" after it, when that text is not empty.
func hasHashTag(key string) bool {
	_, _, ok := hashTag(key)
	return ok
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
