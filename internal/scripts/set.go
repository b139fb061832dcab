package scripts

import _ "embed"

// Set stores a value, always or only if absent (see set.lua).
//
//go:embed set.lua
var Set string

// Set's modes (its third argument).
const (
	SetAlways   = 0
	SetIfAbsent = 1
)

// Touch rewrites a value unchanged, for WAIT to cover earlier writes (see touch.lua).
//
//go:embed touch.lua
var Touch string

// SetArgs returns Set's ARGV: value, kept ms milliseconds (0: none), in mode SetAlways
// or SetIfAbsent. Its one KEY is where the value goes.
func SetArgs(value, ms int64, mode int) []any { return []any{value, ms, mode} }

// Set's replies.
const (
	SetStored  = 1
	SetPresent = 0 // SetIfAbsent found the key present: nothing written
)
