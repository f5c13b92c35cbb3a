package graph

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/graph/model"
	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers/driver"
)

// TestUserFilterIsTheFieldTable: UserFilter's fields (providers aside) are
// the filterable fields of the driver's table by their GraphQL names
// (the native id aside: ids are looked up with node), and filterOf maps
// each onto its field.
func TestUserFilterIsTheFieldTable(t *testing.T) {
	input := NewExecutableSchema(Config{}).Schema().Types["UserFilter"]
	if input == nil {
		t.Fatal("no UserFilter in the schema")
	}
	inSchema := map[driver.Field]bool{}
	for _, f := range input.Fields {
		if f.Name == "providers" {
			continue
		}
		field, ok := driver.ParseField(f.Name)
		if !ok || !driver.Filterable.Has(field) || field.String() != f.Name {
			t.Errorf("UserFilter.%s is not a filterable field of the table", f.Name)
			continue
		}
		inSchema[field] = true
		value := `"Some Value"`
		if field == driver.FieldActive {
			value = "false"
		}
		var uf model.UserFilter
		if err := json.Unmarshal([]byte(`{"`+f.Name+`":`+value+`}`), &uf); err != nil {
			t.Fatal(err)
		}
		got, err := filterOf(&uf)
		if v, ok := got.Get(field); err != nil || !ok || got.Fields() != driver.Fields(field) || v != map[bool]string{true: "false", false: "Some Value"}[field == driver.FieldActive] {
			t.Errorf("filterOf(UserFilter.%s) = %s, %v; want that field alone", f.Name, got, err)
		}
		if field == driver.FieldActive {
			continue
		}
		// The longest value passes, surrounding spaces aside; one byte
		// more is BAD_USER_INPUT naming the argument, not the value.
		for _, tt := range []struct {
			value string
			ok    bool
		}{
			{"  " + strings.Repeat("v", driver.MaxFilterValue) + "  ", true},
			{strings.Repeat("w", driver.MaxFilterValue+1), false},
		} {
			b, _ := json.Marshal(map[string]string{f.Name: tt.value})
			var uf model.UserFilter
			if err := json.Unmarshal(b, &uf); err != nil {
				t.Fatal(err)
			}
			_, err := filterOf(&uf)
			var in *inputError
			switch {
			case tt.ok && err != nil:
				t.Errorf("UserFilter.%s of %d bytes: %v", f.Name, len(tt.value), err)
			case !tt.ok && (!errors.As(err, &in) || in.code != errcode.BadUserInput || !strings.Contains(in.msg, "filter."+f.Name+":") || strings.Contains(in.msg, "ww")):
				t.Errorf("UserFilter.%s of %d bytes: %v, want BAD_USER_INPUT naming filter.%s and not the value", f.Name, len(tt.value), err, f.Name)
			}
		}
	}
	for field := range driver.Filterable.All() {
		if field != driver.FieldID && !inSchema[field] {
			t.Errorf("the filterable field %s is not in UserFilter", field)
		}
	}
}
