package scripts

import _ "embed"

// Unlock releases a lock taken with SET NX only if it still holds the holder's token
// (see unlock.lua).
//
//go:embed unlock.lua
var Unlock string
