package file_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/file"
	"github.com/dirgate/dirgate/providers/providertest"
)

// harness keeps the directory in a file of a test's temporary directory.
type harness struct {
	t      *testing.T
	format string
	path   string
	opens  atomic.Int64
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, company *driver.Company) (driver.Provider, error) {
	h.path = filepath.Join(h.t.TempDir(), "users."+h.format)
	h.SetUsers(users)
	cfg := file.Config{Path: h.path}
	if company != nil {
		c := file.Company(*company)
		cfg.Company = &c
	}
	return file.New(cfg, &file.Options{Open: func(name string) (io.ReadCloser, error) {
		h.opens.Add(1)
		return os.Open(name)
	}})
}

func (h *harness) SetUsers(users []driver.User) {
	var err error
	if h.format == "json" {
		err = writeJSON(h.path, users)
	} else {
		err = file.Write(h.path, users)
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// writeJSON writes users as a JSON array of objects keyed by field name.
func writeJSON(path string, users []driver.User) error {
	var out []map[string]any
	for i := range users {
		m := map[string]any{}
		for f := range driver.AllFields.All() {
			if v := f.Value(&users[i]); v != "" {
				m[f.String()] = v
			}
		}
		m["active"] = users[i].Active
		m["emails"] = users[i].Emails
		out = append(out, m)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Fault: a file can be missing (temporary: it may be being replaced) or
// hold something that is not a directory; it cannot be rate limited,
// refuse credentials, drop a connection or hang.
func (h *harness) Fault(f providertest.Fault) bool {
	switch f.Kind {
	case providertest.NoFault:
		return true
	case providertest.FaultUnavailable:
		os.Remove(h.path)
		return true
	case providertest.FaultBadResponse:
		os.WriteFile(h.path, []byte("<html>not a directory</html>\x00,,\"\n"), 0o600)
		return true
	}
	return false
}

func (h *harness) Requests() int     { return int(h.opens.Load()) }
func (h *harness) Secrets() []string { return nil }
func (h *harness) Close()            {}

func TestConformance(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			providertest.Run(t, func(_ context.Context, t *testing.T) (providertest.Harness, error) {
				return &harness{t: t, format: format}, nil
			}, &providertest.Options{NoRetryAfter: true})
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		give file.Config
		want string
	}{
		{file.Config{Path: "/srv/users.csv"}, ""},
		{file.Config{Path: "/srv/users.JSON"}, ""},
		{file.Config{Path: "/srv/users.txt", Format: "csv"}, ""},
		{file.Config{}, `missing required key "path"`},
		{file.Config{Path: "/srv/users.txt"}, "format must be csv or json"},
		{file.Config{Path: "/srv/users.csv", Format: "xml"}, "format must be csv or json"},
		{file.Config{Path: "/srv/users.csv", MaxBytes: -1}, "maxBytes must not be negative"},
	} {
		err := tt.give.Check()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Check(%+v) = %v, want %q", tt.give, err, tt.want)
		}
	}
}

// TestDecode: the header names fields in any case and order; a bad file
// is a bad response that names the line or the user, never quotes it.
func TestDecode(t *testing.T) {
	got, err := file.DecodeCSV([]byte("\ufeffEmail,ID,active,createdAt,emails\n a@x.example ,u1,yes,2024-03-01,a@x.example;b@x.example\n,u2,0,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.User{
		{ID: "u1", Email: "a@x.example", Emails: []string{"a@x.example", "b@x.example"}, Active: true, CreatedAt: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "u2"},
	}
	if d := providertest.Diff(got, want); d != "" {
		t.Error(d)
	}
	for _, tt := range []struct {
		name, give string
		json       bool
		want       string
	}{
		{"unknown column", "id,salary\nu1,secret-salary\n", false, "column 2 of the header names no field"},
		{"no id", "email\na@x.example\n", false, "user 1 has no id"},
		{"repeated id", "id\nu1\nu1\n", false, "user 2 has the id of an earlier one"},
		{"bad boolean", "id,active\nu1,maybe-secret\n", false, "user 1: active"},
		{"ragged row", "id,email\nu1\n", false, "line 2 is not CSV"},
		{"not an array", `{"id":"u1"}`, true, "not a JSON array"},
		{"unknown key", `[{"id":"u1","ssn":"123-45-6789"}]`, true, "a key that names no field"},
		{"an object value", `[{"id":{"x":1}}]`, true, "id is not text"},
	} {
		var err error
		if tt.json {
			_, err = file.DecodeJSON([]byte(tt.give))
		} else {
			_, err = file.DecodeCSV([]byte(tt.give))
		}
		if !errors.Is(err, driver.ErrBadResponse) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want a bad response saying %q", tt.name, err, tt.want)
		}
		for _, leak := range []string{"secret-salary", "maybe-secret", "123-45-6789", "a@x.example"} {
			if err != nil && strings.Contains(err.Error(), leak) {
				t.Errorf("%s: %v quotes the file", tt.name, err)
			}
		}
	}
}

// TestTooLarge: a file larger than maxBytes is refused whole, never read
// in part.
func TestTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.csv")
	if err := file.Write(path, providertest.Dataset(200)); err != nil {
		t.Fatal(err)
	}
	c, err := file.New(file.Config{Path: path, MaxBytes: 1 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{}); !errors.Is(err, driver.ErrBadResponse) || !strings.Contains(err.Error(), "larger than maxBytes") {
		t.Errorf("err = %v, want a bad response: larger than maxBytes", err)
	}
}

// FuzzDecode: whatever a file holds, decoding it gives users with ids of
// their own, or a classified error; it never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("id,email\nu1,a@x.example\n"), false)
	f.Add([]byte("id\n\"unterminated\n"), false)
	f.Add([]byte("\ufeff\ufeffid\n"), false)
	f.Add([]byte(`[{"id":"u1","emails":["a","b"],"active":1}]`), true)
	f.Add([]byte(`[{"id":1e400}]`), true)
	f.Add([]byte(`[null]`), true)
	f.Fuzz(func(t *testing.T, b []byte, isJSON bool) {
		decode := file.DecodeCSV
		if isJSON {
			decode = file.DecodeJSON
		}
		users, err := decode(b)
		if err != nil {
			if !errors.Is(err, driver.ErrBadResponse) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, u := range users {
			if u.ID == "" || seen[u.ID] {
				t.Fatalf("user %+v: an id missing or repeated", u)
			}
			seen[u.ID] = true
		}
	})
}
