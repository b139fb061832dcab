// Package storehook lets cache/cachetest reach the root package's unexported store, so
// that the conformance suite checks the library's scripts over a transport under test.
package storehook

// New returns the root package's store over an andromeda.Cache. The root package sets
// it when it is initialised.
var New func(cache any) any
