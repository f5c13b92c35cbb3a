package config

import (
	"os"
	"testing"
)

// TestExampleParses keeps the example configuration in the repository
// root valid.
func TestExampleParses(t *testing.T) {
	data, err := os.ReadFile("../../dirgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := Parse(data, func(k string) string {
		if k == "DIRGATE_STATE_DIR" {
			return dir
		}
		return "value-of-" + k
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Providers) != 4 || c.Providers[0].Kind != "concur-identity" || c.Providers[1].Kind != "getbill" ||
		c.Providers[2].Kind != "scim" || c.Providers[3].Kind != "file" {
		t.Errorf("providers = %+v", c.Providers)
	}
}
