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
