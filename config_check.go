package andromeda

import (
	"fmt"
	"reflect"
)

// configField is one field of a config, by name, for the constructors' checks.
type configField struct {
	name  string
	value any
}

// mustSet panics, naming the field, when a required field is nil, or holds a nil func or
// pointer (GetQuotaKeyFunc(nil)): a programmer error, caught at start-up, not in Do.
func mustSet(config string, fields ...configField) {
	for _, f := range fields {
		if f.value == nil || holdsNil(f.value) {
			panic(fmt.Sprintf("andromeda: %s.%s is required", config, f.name))
		}
	}
}

// mustBeUsable panics, naming the field, when an optional field is set to a nil func or
// pointer: set, yet it would panic when called.
func mustBeUsable(config string, fields ...configField) {
	for _, f := range fields {
		if f.value != nil && holdsNil(f.value) {
			panic(fmt.Sprintf("andromeda: %s.%s holds a nil %T", config, f.name, f.value))
		}
	}
}

// holdsNil reports whether v, a non-nil interface value, holds a nil func, pointer, map,
// channel, slice or interface.
func holdsNil(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
