package scripts

import _ "embed"

// Hold reserves, commits and cancels holds (see hold.lua).
var Hold = exact + holdsRelease + holdSource

//go:embed hold.lua
var holdSource string

// HoldModes are Hold's first argument, by operation: reserve, commit, cancel.
var HoldModes = [...]string{"reserve", "commit", "cancel"}

// HoldArgs returns Hold's ARGV (see hold.lua); its KEYS are the usage, its hold buckets
// and the hold's record.
func HoldArgs(mode string, amount, limit, holdForMS, retentionMS, absent int64) []any {
	return []any{mode, amount, limit, holdForMS, retentionMS, absent}
}
