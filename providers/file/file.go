// Package file is the dirgate adapter for a directory kept in a file: a
// CSV or JSON list of users, as companies keep their contractors in
// spreadsheets. It is also the reference for adding a kind: one package
// with its configuration, its adapter and its demo, and one line in the
// kinds table.
//
// A CSV file has a header row naming the columns by the User fields'
// GraphQL names (id, email, emails, firstName, middleName, lastName,
// active, loginId, employeeId, cellPhone, organizationUnit, countryCode,
// createdAt, lastActivityAt), in any letter case; an id column is
// required. A JSON file is an array of objects with the same keys. The
// whole file is the directory: the portable layer caches it for cacheTTL
// and filters it, so edits show within cacheTTL.
package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// DefaultMaxBytes bounds the file read when Config.MaxBytes is zero.
const DefaultMaxBytes = 32 << 20

// Config is a file directory's configuration: its keys under providers[]
// in dirgate's configuration, decoded strictly.
type Config struct {
	// Path is the file.
	Path string `yaml:"path"`
	// Format is csv or json; by default, the file name's extension.
	Format string `yaml:"format"`
	// MaxBytes bounds the file: a larger one is an error, never read in
	// part. Default DefaultMaxBytes.
	MaxBytes int64 `yaml:"maxBytes"`
	// Company is the company the directory belongs to, when set.
	Company *Company `yaml:"company"`
}

// Company is the company a file directory names.
type Company struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	City    string `yaml:"city"`
	State   string `yaml:"state"`
	Zip     string `yaml:"zip"`
	Country string `yaml:"country"`
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	if strings.TrimSpace(cfg.Path) == "" {
		return errors.New(`missing required key "path"`)
	}
	if cfg.Format == "" {
		cfg.Format = strings.TrimPrefix(strings.ToLower(filepath.Ext(cfg.Path)), ".")
	}
	if cfg.Format != "csv" && cfg.Format != "json" {
		return errors.New(`format must be csv or json (or the path must end in .csv or .json)`)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBytes < 0 {
		return errors.New("maxBytes must not be negative")
	}
	return nil
}

// Options are a Client's optional dependencies.
type Options struct {
	// Open opens the file; nil means os.Open.
	Open func(name string) (io.ReadCloser, error)
}

// Client serves the users of a file. It implements driver.Provider and is
// safe for concurrent use.
type Client struct {
	cfg  Config
	open func(string) (io.ReadCloser, error)
}

// New returns a Client for cfg, which it checks. It does no I/O.
func New(cfg Config, opts *Options) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	c := &Client{cfg: cfg, open: func(name string) (io.ReadCloser, error) { return os.Open(name) }}
	if opts != nil && opts.Open != nil {
		c.open = opts.Open
	}
	return c, nil
}

// Open builds a Client from dirgate's configuration; a file needs nothing
// of the shared environment.
func Open(cfg *Config, _ vendorhttp.Env) (driver.Provider, error) { return New(*cfg, nil) }

// Describe says that the file is read whole, and may hold every field.
func (c *Client) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingSnapshot, Fields: driver.AllFields}
}

// ListUsers reads the file: every user, in the file's order, in one
// answer. A missing file is temporary (it may be being replaced); one
// dirgate may not read is an ErrAuth; one that is too large or malformed
// is an ErrBadResponse that names the line or entry, never its content.
func (c *Client) ListUsers(ctx context.Context, _ driver.ListRequest) (*driver.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: %w: %w", driver.ErrUnavailable, err)
	}
	users, err := c.read()
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: %w: %w", driver.ErrUnavailable, err)
	}
	page := &driver.ListPage{Users: users, Total: len(users)}
	if co := c.cfg.Company; co != nil {
		page.Company = &driver.Company{Name: co.Name, Address: co.Address, City: co.City, State: co.State, Zip: co.Zip, Country: co.Country}
	}
	return page, nil
}

func (c *Client) read() ([]driver.User, error) {
	f, err := c.open(c.cfg.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &driver.TemporaryError{Err: fmt.Errorf("%w: the file does not exist", driver.ErrUnavailable)}
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: dirgate may not read the file", driver.ErrAuth)
	case err != nil:
		return nil, fmt.Errorf("%w: opening the file failed", driver.ErrUnavailable)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the file failed", driver.ErrUnavailable)
	}
	if int64(len(b)) > c.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: the file is larger than maxBytes (%d)", driver.ErrBadResponse, c.cfg.MaxBytes)
	}
	if c.cfg.Format == "json" {
		return DecodeJSON(b)
	}
	return DecodeCSV(b)
}

// DecodeCSV reads a CSV directory: a header row of field names, then one
// user a row.
func DecodeCSV(b []byte) ([]driver.User, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the header row is not CSV", driver.ErrBadResponse)
	}
	cols := make([]driver.Field, len(header))
	for i, name := range header {
		f, ok := driver.ParseField(name)
		if !ok {
			return nil, fmt.Errorf("%w: column %d of the header names no field", driver.ErrBadResponse, i+1)
		}
		cols[i] = f
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, fmt.Errorf("%w: line %d is not CSV", driver.ErrBadResponse, line)
		}
		rows = append(rows, append([]string(nil), rec...))
	}
	return users(len(rows), func(i int, set func(driver.Field, string) error) error {
		for j, v := range rows[i] {
			if err := set(cols[j], v); err != nil {
				return err
			}
		}
		return nil
	})
}

// DecodeJSON reads a JSON directory: an array of objects keyed by field
// names, with text, number, boolean or (for emails) array values.
func DecodeJSON(b []byte) ([]driver.User, error) {
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%w: not a JSON array of objects", driver.ErrBadResponse)
	}
	return users(len(entries), func(i int, set func(driver.Field, string) error) error {
		for key, raw := range entries[i] {
			f, ok := driver.ParseField(key)
			if !ok {
				return fmt.Errorf("a key that names no field")
			}
			var v vendorhttp.Strings
			if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' || json.Unmarshal(raw, &v) != nil {
				return fmt.Errorf("%s is not text", f)
			}
			if err := set(f, strings.Join(v, " ")); err != nil {
				return err
			}
		}
		return nil
	})
}

// users builds n users, the i-th from fill; each must have an id of its
// own.
func users(n int, fill func(i int, set func(driver.Field, string) error) error) ([]driver.User, error) {
	out := make([]driver.User, 0, n)
	seen := make(map[string]bool, n)
	for i := range n {
		var u driver.User
		if err := fill(i, func(f driver.Field, v string) error { return f.Set(&u, v) }); err != nil {
			return nil, fmt.Errorf("%w: user %d: %w", driver.ErrBadResponse, i+1, err)
		}
		switch {
		case u.ID == "":
			return nil, fmt.Errorf("%w: user %d has no id", driver.ErrBadResponse, i+1)
		case seen[u.ID]:
			return nil, fmt.Errorf("%w: user %d has the id of an earlier one", driver.ErrBadResponse, i+1)
		}
		seen[u.ID] = true
		if u.Email != "" && len(u.Emails) == 0 {
			u.Emails = []string{u.Email}
		}
		out = append(out, u)
	}
	return out, nil
}

var _ driver.Provider = (*Client)(nil)
