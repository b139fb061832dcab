package andromeda

import (
	"strconv"
	"sync"
)

// slotCount is the number of Redis Cluster hash slots.
const slotCount = 16384

// keySlot returns the Redis Cluster hash slot of key: CRC16 (XMODEM) of its hash tag,
// or of the whole key when it has none, modulo 16384.
func keySlot(key string) int {
	if open, end, ok := hashTag(key); ok {
		key = key[open+1 : end]
	}
	return int(crc16(key) % slotCount)
}

// hashTag returns where key's hash tag lies: the text between the first "{" and the
// first "}" after it, when that text is not empty.
func hashTag(key string) (open, end int, ok bool) {
	for open = 0; open < len(key); open++ {
		if key[open] == '{' {
			break
		}
	}
	for end = open + 1; end < len(key); end++ {
		if key[end] == '}' {
			return open, end, end > open+1
		}
	}
	return 0, 0, false
}

// crc16 is the CRC16-CCITT (XMODEM) checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for bit := 0; bit < 8; bit++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotTags holds, for each hash slot, a short text that hashes to it. It is filled once,
// the first time a key needs it, and never changes after.
var slotTags struct {
	once sync.Once
	tags [slotCount]string
}

// slotTag returns a short text whose hash slot is slot, for a hash tag that puts a key
// in that slot.
func slotTag(slot int) string {
	slotTags.once.Do(func() {
		for n, filled := 0, 0; filled < slotCount; n++ {
			tag := strconv.FormatInt(int64(n), 36)
			if s := crc16(tag) % slotCount; slotTags.tags[s] == "" {
				slotTags.tags[s] = tag
				filled++
			}
		}
	})
	return slotTags.tags[slot]
}
