package scim

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseFilter(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`UserName EQ "bjensen"`, `UserName eq "bjensen"`},
		{`active eq true`, `active eq true`},
		{`active eq False`, `active eq false`},
		{`title pr`, `title pr`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E1"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E1"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`},
		{`a eq 1 and b eq 2 or c eq 3`, `((a eq 1 and b eq 2) or c eq 3)`},
		{`a eq 1 or b eq 2 and c eq 3`, `(a eq 1 or (b eq 2 and c eq 3))`},
		{`a eq 1 and (b eq 2 or c eq 3)`, `(a eq 1 and (b eq 2 or c eq 3))`},
		{`not (a eq 1) and b pr`, `(not (a eq 1) and b pr)`},
		{`not(a eq 1)`, `not (a eq 1)`},
		{`emails[type eq "work" and value co "@example.com"]`, `emails[(type eq "work" and value co "@example.com")]`},
		{`userName eq "a \"quoted\" \\ name"`, `userName eq "a \"quoted\" \\ name"`},
		{`userName eq "\u00e9t\u00E9"`, `userName eq "été"`},
		{`x eq -1.5e3`, `x eq -1.5e3`},
		{`x eq null`, `x eq null`},
		{`  userName   eq   "a"  `, `userName eq "a"`},
		{`userName eq "and or not ) ( ]"`, `userName eq "and or not ) ( ]"`},
	} {
		x, err := parseFilter(tt.in)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.in, err)
			continue
		}
		if got := x.String(); got != tt.want {
			t.Errorf("parseFilter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`userName`,
		`userName eq`,
		`userName eq bjensen`,
		`userName eq 'bjensen'`,
		`userName equals "x"`,
		`userName eq "x`,
		`userName eq "x" and`,
		`userName eq "x" garbage`,
		`userName eq "x"and active eq true`,
		`(userName eq "x"`,
		`emails[type eq "work"`,
		`1abc eq "x"`,
		`name.given$Name eq "x"`,
		`userName eq "a` + "\n" + `b"`,
		`userName eq "\q"`,
		`x eq 01`,
		`x eq 1.`,
		`userName eq "x"]`,
		`:userName eq "x"`,
		strings.Repeat("(", 40) + `a eq 1` + strings.Repeat(")", 40),
		strings.Repeat("not (", 40) + `a eq 1` + strings.Repeat(")", 40),
		`userName eq "` + strings.Repeat("x", maxFilterLen) + `"`,
		"userName eq \"\xff\"",
	} {
		x, err := parseFilter(in)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("parseFilter(%.60q) = %v, %v; want a FilterError", in, x, err)
		}
	}
}

func TestBuild(t *testing.T) {
	got, err := Build(
		Term{Path: "userName", Value: `Bob "the" \ builder`},
		Term{Path: "active", Value: "true", Bool: true},
		Term{Path: EnterpriseUserSchema + ":employeeNumber", Value: "E1\n2"},
		Term{Path: "emails", Sub: []Term{{Path: "type", Value: "work"}, {Path: "value", Value: `a"]b`}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := `userName eq "Bob \"the\" \\ builder" and active eq true and ` +
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E1\n2" and ` +
		`emails[type eq "work" and value eq "a\"]b"]`
	if got != want {
		t.Errorf("Build = %s\nwant    %s", got, want)
	}
	for _, bad := range [][]Term{
		nil,
		{{Path: "user name", Value: "x"}},
		{{Path: `userName eq "x" or userName`, Value: "x"}},
		{{Path: "active", Value: "yes", Bool: true}},
		{{Path: "userName", Value: "\xff"}},
		{{Path: "emails", Sub: []Term{}}},
		{{Path: "emails.value", Sub: []Term{{Path: "type", Value: "x"}}}},
		{{Path: "emails", Sub: []Term{{Path: "name.x", Value: "x"}}}},
		{{Path: "emails", Sub: []Term{{Path: "a", Sub: []Term{{Path: "b", Value: "c"}}}}}},
	} {
		if f, err := Build(bad...); err == nil {
			t.Errorf("Build(%+v) = %q, want an error", bad, f)
		}
	}
}

// FuzzBuild proves that no value produces an unescaped filter: whatever
// the values, what Build writes parses back, with the emulator's parser,
// into exactly the terms it was given, joined with "and", the third
// inside a value filter.
func FuzzBuild(f *testing.F) {
	paths := []string{"userName", "emails.value", "name.familyName", EnterpriseUserSchema + ":employeeNumber", "externalId", "id"}
	for _, seed := range []struct {
		p1, p2     uint8
		v1, v2, v3 string
	}{
		{0, 1, "bjensen", "b@example.com", "w@example.com"},
		{2, 3, `" or userName pr or "`, `\`, `"] or id pr or emails[value eq "`},
		{4, 5, `x" ) or ( id pr`, "\u2028\x00\x1f\x7f", "]"},
		{0, 0, `\" and active eq true and userName eq \"`, `"]`, `\"]`},
		{1, 2, "é漢字🙂", "", `\`},
	} {
		f.Add(seed.p1, seed.p2, seed.v1, seed.v2, seed.v3)
	}
	f.Fuzz(func(t *testing.T, p1, p2 uint8, v1, v2, v3 string) {
		t1 := Term{Path: paths[int(p1)%len(paths)], Value: v1}
		t2 := Term{Path: paths[int(p2)%len(paths)], Value: v2}
		t3 := Term{Path: "emails", Sub: []Term{{Path: "type", Value: "work"}, {Path: "value", Value: v3}}}
		s, err := Build(t1, t2, t3)
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) || !utf8.ValidString(v3) {
			if err == nil {
				t.Fatalf("Build accepted a value that is not UTF-8: %q", s)
			}
			return
		}
		if err != nil {
			t.Fatalf("Build(%q, %q, %q): %v", v1, v2, v3, err)
		}
		x, err := parseFilter(s)
		if err != nil {
			if len(s) > maxFilterLen {
				return // longer than the emulator reads
			}
			t.Fatalf("Build wrote %q, which does not parse: %v", s, err)
		}
		// ((t1 and t2) and emails[(type eq "work" and value eq v3)])
		outer, ok := x.(*logical)
		if !ok || outer.op != "and" {
			t.Fatalf("Build wrote %q, which parses as %s", s, x)
		}
		first, ok := outer.left.(*logical)
		vp, ok2 := outer.right.(*valuePath)
		if !ok || !ok2 || first.op != "and" || vp.path.String() != "emails" {
			t.Fatalf("Build wrote %q, which parses as %s", s, x)
		}
		inner, ok := vp.filter.(*logical)
		if !ok || inner.op != "and" {
			t.Fatalf("the value filter of %q parses as %s", s, vp.filter)
		}
		for i, c := range []struct {
			x    expr
			term Term
		}{{first.left, t1}, {first.right, t2}, {inner.left, t3.Sub[0]}, {inner.right, t3.Sub[1]}} {
			cmp, ok := c.x.(*compare)
			if !ok || cmp.op != "eq" || cmp.val.kind != litString {
				t.Fatalf("term %d of %q parses as %s", i, s, c.x)
			}
			if cmp.path.String() != c.term.Path || cmp.val.str != c.term.Value {
				t.Fatalf("term %d of %q parses as %s eq %q, want %s eq %q", i, s, cmp.path, cmp.val.str, c.term.Path, c.term.Value)
			}
		}
	})
}
