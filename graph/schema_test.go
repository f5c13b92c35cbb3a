package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaDescribed: every type, field, argument, input field, enum
// value and directive of the schema the server runs has a description,
// whichever file it comes from and whenever it was added.
func TestSchemaDescribed(t *testing.T) {
	s := NewExecutableSchema(Config{}).Schema()
	var missing []string
	check := func(desc, where string) {
		if strings.TrimSpace(desc) == "" {
			missing = append(missing, where)
		}
	}
	builtin := func(p *ast.Position) bool { return p != nil && p.Src != nil && p.Src.BuiltIn }
	types := 0
	for name, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		types++
		check(def.Description, string(def.Kind)+" "+name)
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") || builtin(f.Position) {
				continue // __schema, __type and __typename, which gqlparser adds
			}
			kind := "field"
			if def.Kind == ast.InputObject {
				kind = "input field"
			}
			check(f.Description, kind+" "+name+"."+f.Name)
			for _, a := range f.Arguments {
				check(a.Description, "argument "+name+"."+f.Name+"("+a.Name+")")
			}
		}
		for _, v := range def.EnumValues {
			check(v.Description, "enum value "+name+"."+v.Name)
		}
	}
	for name, d := range s.Directives {
		if builtin(d.Position) {
			continue
		}
		check(d.Description, "directive @"+name)
		for _, a := range d.Arguments {
			check(a.Description, "argument @"+name+"("+a.Name+")")
		}
	}
	if types < 10 {
		t.Fatalf("walked %d types: the walk did not reach the schema", types)
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("%s has no description", m)
	}
	if len(missing) > 0 {
		t.Logf("%d schema elements have no description; describe them in graph/*.graphqls", len(missing))
	}
}
