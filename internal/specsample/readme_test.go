package specsample

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's voucher samples must be the code compiled here, so they cannot drift.
func TestREADMESamplesAreTheCompiledOnes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	for _, name := range []string{"specsample.go", filepath.Join("internal", "voucher.go")} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sources.WriteString(normalize(string(src)))
	}
	// The walk-through runs from its heading to the next section of the same level.
	text := string(readme)
	start := strings.Index(text, "## How to use it")
	end := strings.Index(text, "### Several quotas")
	if start < 0 || end < start {
		t.Fatal("the README has lost its walk-through section")
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(text[start:end], -1)
	checked := 0
	for _, block := range blocks {
		if !strings.Contains(strings.ToLower(block[1]), "voucher") {
			continue
		}
		checked++
		if !strings.Contains(sources.String(), normalize(block[1])) {
			t.Errorf("README sample is not in internal/specsample:\n%s", block[1])
		}
	}
	if checked < 7 {
		t.Errorf("checked %d voucher samples in the README, want the spec's 7", checked)
	}
}

// normalize drops comment lines and collapses white space.
func normalize(code string) string {
	var kept []string
	for _, line := range strings.Split(code, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "//") {
			kept = append(kept, line)
		}
	}
	return strings.Join(strings.Fields(strings.Join(kept, "\n")), " ")
}

// Every Go block of the README is code that compiles: it is found, as written, in a Go
// file of this tree (the walk-through, the quick start, the snippets) or of the
// OpenTelemetry module (its wiring example).
func TestEveryREADMEGoBlockIsCompiled(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	for _, dir := range []string{".", "internal", "../../extra/andromedaotel"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(names) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			sources.WriteString(normalize(string(src)))
		}
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	for _, block := range blocks {
		if !strings.Contains(sources.String(), normalize(block[1])) {
			t.Errorf("README Go block is not in the compiled sources:\n%s", block[1])
		}
	}
	if len(blocks) < 15 {
		t.Errorf("found %d Go blocks in the README, want at least 15", len(blocks))
	}
}
