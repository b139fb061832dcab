package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Flags may follow the arguments, as the README writes "inspect KEY -hold ID"; an
// argument that names no flag, such as a negative limit, stays an argument.
func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args, want, holds []string
		expire            string
	}{
		{[]string{"-hold", "a", "k"}, []string{"k"}, []string{"a"}, ""},
		{[]string{"k", "-hold", "a", "-hold=b"}, []string{"k"}, []string{"a", "b"}, ""},
		{[]string{"k", "42", "-expire", "1h"}, []string{"k", "42"}, nil, "1h0m0s"},
		{[]string{"k", "--expire", "1h", "42"}, []string{"k", "42"}, nil, "1h0m0s"},
		{[]string{"k", "-1"}, []string{"k", "-1"}, nil, ""},
		{[]string{"k", "--", "-hold", "x"}, []string{"k", "-hold", "x"}, nil, ""},
		{[]string{"--", "-k"}, []string{"-k"}, nil, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var holds stringList
			fs.Var(&holds, "hold", "")
			expire := fs.Duration("expire", 0, "")
			got, err := parseInterleaved(fs, tc.args)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.holds, []string(holds))
			if tc.expire != "" {
				assert.Equal(t, tc.expire, expire.String())
			}
		})
	}
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// A flag after the arguments is checked as one before it: a missing value is a usage error, -h is help.
func TestFlagErrorsAfterArguments(t *testing.T) {
	r := runCLI("inspect", "k", "-hold")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "flag needs an argument: -hold")
	r = runCLI("inspect", "k", "-h")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stderr, "usage: andromeda inspect")
}
