package file

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dirgate/dirgate/providers/driver"
)

// Write writes users to a CSV file at path, every field a column, in the
// format Client reads.
func Write(path string, users []driver.User) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	var header []string
	for f := range driver.AllFields.All() {
		header = append(header, f.String())
	}
	w.Write(header)
	for i := range users {
		var row []string
		for f := range driver.AllFields.All() {
			row = append(row, f.Value(&users[i]))
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// Demo writes the demo's directory to a CSV file in dir and returns its
// configuration.
func Demo(dir string, users []driver.User, company *driver.Company) (*Config, error) {
	path := filepath.Join(dir, "contractors.csv")
	if err := Write(path, users); err != nil {
		return nil, fmt.Errorf("file: demo: %w", err)
	}
	cfg := &Config{Path: path}
	if company != nil {
		c := Company(*company)
		cfg.Company = &c
	}
	return cfg, cfg.Check()
}
