package andromeda

import "strings"

// LimitKey returns the key where AddUsageOption.CacheLimit keeps the limit of the quota
// whose usage is at usageKey. It lies in the same Redis Cluster hash slot as usageKey, so
// one script can read both: usageKey's own hash tag is kept when it has one, and otherwise
// the whole usageKey becomes the tag ("voucher-1" gives "{voucher-1}:limit"). A usageKey
// with a "}" but no hash tag cannot be paired this way on a cluster.
func LimitKey(usageKey string) string { return sameSlotKey(usageKey, ":limit") }

// sameSlotKey returns a key in the same cluster hash slot as key.
func sameSlotKey(key, suffix string) string {
	if hasHashTag(key) {
		return key + suffix
	}
	return "{" + key + "}" + suffix
}

// hasHashTag reports whether Redis Cluster hashes key by a tag: the text between the
// first "{" and the first "}" after it, when that text is not empty.
func hasHashTag(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	return strings.IndexByte(key[open+1:], '}') > 0
}

// recordKey is where the outcome of the op with idempotencyKey on the usage at usageKey is
// recorded: in usageKey's hash slot.
func recordKey(usageKey, op, idempotencyKey string) string {
	return sameSlotKey(usageKey, ":idempotency:"+op+":"+idempotencyKey)
}

// HoldKeys returns the keys that keep the holds of the usage at usageKey: active holds
// by expiry, their amounts, closed holds, and when to forget them.
func HoldKeys(usageKey string) [4]string {
	return [4]string{
		sameSlotKey(usageKey, ":holds"),
		sameSlotKey(usageKey, ":hold-amounts"),
		sameSlotKey(usageKey, ":holds-closed"),
		sameSlotKey(usageKey, ":holds-forget-at"),
	}
}
