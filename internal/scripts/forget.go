package scripts

import _ "embed"

// Forget deletes a usage and the keys derived from it, in one step (see forget.lua). Its
// KEYS are the usage, then the keys to delete with it; it takes no ARGV. It replies
// {Applied, usage} when it deleted the usage, {Missing, 0} when the usage was absent, and
// as Add does for a usage key that holds something else (read it with Parse).
var Forget = exact + forgetSource

//go:embed forget.lua
var forgetSource string
