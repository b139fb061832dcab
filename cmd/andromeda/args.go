package main

import (
	"flag"
	"slices"
	"strings"
)

// parseInterleaved parses fs's flags before, between and after the positional arguments,
// so that "inspect KEY -hold ID" works as well as "inspect -hold ID KEY". After the first
// positional argument, only an argument that names a flag of fs is taken as one, so a
// negative limit stays an argument; everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		for len(args) > 0 && !namesFlag(fs, args[0]) {
			positional = append(positional, args[0])
			args = args[1:]
		}
		if len(args) == 0 {
			return append(positional, tail...), nil
		}
	}
}

// namesFlag reports whether arg is -name, --name or -name=value for a flag of fs (or -h).
func namesFlag(fs *flag.FlagSet, arg string) bool {
	name, ok := strings.CutPrefix(arg, "-")
	if !ok {
		return false
	}
	name = strings.TrimPrefix(name, "-")
	name, _, _ = strings.Cut(name, "=")
	return name == "h" || name == "help" || (name != "" && fs.Lookup(name) != nil)
}
