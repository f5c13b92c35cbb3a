package errcode

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEListsEveryCode checks that the README's error table lists
// every code of the closed set, and no code outside it, each with its
// HTTP status for both response media types.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile("(?m)^\\| code \\| status, `application/json` \\| status, `application/graphql-response\\+json` \\| meaning \\|$")
	if !header.Match(b) {
		t.Errorf("README error table: no header naming the status of each media type")
	}
	status := regexp.MustCompile(`^\d{3}(, \d{3})*$`)
	var table []Code
	for _, m := range regexp.MustCompile("(?m)^\\| *(`[A-Z_]+`(?:, *`[A-Z_]+`)*) *\\|(.*)$").FindAllStringSubmatch(string(b), -1) {
		var row []Code
		for _, c := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(m[1], -1) {
			row = append(row, Code(c[1]))
		}
		table = append(table, row...)
		cells := strings.Split(m[2], "|")
		if len(cells) < 3 || !status.MatchString(strings.TrimSpace(cells[0])) || !status.MatchString(strings.TrimSpace(cells[1])) {
			t.Errorf("README error table: %v does not give its HTTP status for both media types", row)
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
