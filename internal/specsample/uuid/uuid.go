// Package uuid stands in for the UUID package the spec's claim sample imports
// (satori/go.uuid's NewV4().String()), so the sample compiles unchanged without it.
package uuid

import (
	"crypto/rand"
	"fmt"
)

// UUID is a random (version 4) UUID.
type UUID [16]byte

// NewV4 returns a random UUID.
func NewV4() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// String formats u as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
