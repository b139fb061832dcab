package scripts

import _ "embed"

// ReadUsage reads a usage and the amount its holds count in it (see read_usage.lua). Its
// KEYS are the usage and its hold buckets; it takes no ARGV and writes nothing. Read its
// reply with Parse: Usage is the usage, Limit the amount held.
var ReadUsage = exact + holdsRelease + readUsageSource

//go:embed read_usage.lua
var readUsageSource string
