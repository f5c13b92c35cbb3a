package errcode

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestREADMEListsEveryCode checks that the README's error table lists
// every code of the closed set, and no code outside it.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var table []Code
	for _, m := range regexp.MustCompile("(?m)^\\| *(`[A-Z_]+`(?:, *`[A-Z_]+`)*) *\\|").FindAllStringSubmatch(string(b), -1) {
		for _, c := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(m[1], -1) {
			table = append(table, Code(c[1]))
		}
	}
	for _, c := range All {
		if !slices.Contains(table, c) {
			t.Errorf("README error table: %s missing", c)
		}
	}
	for _, c := range table {
		if !slices.Contains(All, c) {
			t.Errorf("README error table: %s is not in errcode.All", c)
		}
	}
	seen := map[Code]bool{}
	for _, c := range All {
		if seen[c] {
			t.Errorf("errcode.All lists %s twice", c)
		}
		seen[c] = true
	}
}
