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
	)
	if err != nil {
		t.Fatal(err)
	}
	want := `userName eq "Bob \"the\" \\ builder" and active eq true and ` +
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E1\n2"`
	if got != want {
		t.Errorf("Build = %s\nwant    %s", got, want)
	}
	for _, bad := range [][]Term{
		nil,
		{{Path: "user name", Value: "x"}},
		{{Path: `userName eq "x" or userName`, Value: "x"}},
		{{Path: "active", Value: "yes", Bool: true}},
		{{Path: "userName", Value: "\xff"}},
	} {
		if f, err := Build(bad...); err == nil {
			t.Errorf("Build(%+v) = %q, want an error", bad, f)
		}
	}
}

// FuzzBuild proves that no value produces an unescaped filter: whatever
// the values, what Build writes parses back, with the emulator's parser,
// into exactly the terms it was given, joined with "and".
func FuzzBuild(f *testing.F) {
	paths := []string{"userName", "emails.value", "name.familyName", EnterpriseUserSchema + ":employeeNumber", "externalId", "id"}
	for _, seed := range []struct {
		p1, p2 uint8
		v1, v2 string
	}{
		{0, 1, "bjensen", "b@example.com"},
		{2, 3, `" or userName pr or "`, `\`},
		{4, 5, `x" ) or ( id pr`, "\u2028\x00\x1f\x7f"},
		{0, 0, `\" and active eq true and userName eq \"`, `"]`},
		{1, 2, "é漢字🙂", ""},
	} {
		f.Add(seed.p1, seed.p2, seed.v1, seed.v2)
	}
	f.Fuzz(func(t *testing.T, p1, p2 uint8, v1, v2 string) {
		t1 := Term{Path: paths[int(p1)%len(paths)], Value: v1}
		t2 := Term{Path: paths[int(p2)%len(paths)], Value: v2}
		s, err := Build(t1, t2)
		if !utf8.ValidString(v1) || !utf8.ValidString(v2) {
			if err == nil {
				t.Fatalf("Build accepted a value that is not UTF-8: %q", s)
			}
			return
		}
		if err != nil {
			t.Fatalf("Build(%q, %q): %v", v1, v2, err)
		}
		x, err := parseFilter(s)
		if err != nil {
			if len(s) > maxFilterLen {
				return // longer than the emulator reads
			}
			t.Fatalf("Build wrote %q, which does not parse: %v", s, err)
		}
		and, ok := x.(*logical)
		if !ok || and.op != "and" {
			t.Fatalf("Build wrote %q, which parses as %s, not one \"and\"", s, x)
		}
		for i, c := range []struct {
			x    expr
			term Term
		}{{and.left, t1}, {and.right, t2}} {
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
