package graph

import (
	"encoding/json"
	"testing"

	"github.com/dirgate/dirgate/graph/model"
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
		got := filterOf(&uf)
		if v, ok := got.Get(field); !ok || got.Fields() != driver.Fields(field) || v != map[bool]string{true: "false", false: "Some Value"}[field == driver.FieldActive] {
			t.Errorf("filterOf(UserFilter.%s) = %s, want that field alone", f.Name, got)
		}
	}
	for field := range driver.Filterable.All() {
		if field != driver.FieldID && !inSchema[field] {
			t.Errorf("the filterable field %s is not in UserFilter", field)
		}
	}
}
