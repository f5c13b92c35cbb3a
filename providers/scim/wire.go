package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/dirgate/dirgate/providers/driver"
)

// Page is one decoded ListResponse (RFC 7644 §3.4.2, RFC 9865 §2).
type Page struct {
	// Users are the resources, mapped, in the server's order.
	Users []User
	// TotalResults is the number of resources matching the query, or -1
	// when the server left it out.
	TotalResults int
	// ItemsPerPage is the number of resources the server says it
	// returned, or -1 when it left it out.
	ItemsPerPage int
	// StartIndex is the 1-based index of the first resource, or 0 when the
	// server left it out.
	StartIndex int
	// NextCursor continues after Users (RFC 9865); "" on the last page or
	// with index paging.
	NextCursor string
}

// DecodeList decodes a ListResponse and maps its resources with m. It
// tolerates what real servers do: member names in any letter case, no
// "Resources" on an empty page, "totalResults", "itemsPerPage" and
// "startIndex" missing or sent as strings. It refuses what it cannot
// read: not a JSON object, a resource without an id, a count that is
// not a whole number.
func (m *Mapping) DecodeList(body []byte) (*Page, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	p := &Page{TotalResults: -1, ItemsPerPage: -1}
	for _, c := range []struct {
		name string
		into *int
	}{{"totalResults", &p.TotalResults}, {"itemsPerPage", &p.ItemsPerPage}, {"startIndex", &p.StartIndex}} {
		v, ok := lookup(top, c.name)
		if !ok || v == nil || v == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(text(v)))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s is not a whole number", driver.ErrBadResponse, c.name)
		}
		*c.into = n
	}
	p.NextCursor = strings.TrimSpace(member(top, "nextCursor"))
	if v, ok := lookup(top, "Resources"); ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: Resources is not a list", driver.ErrBadResponse)
		}
		p.Users = make([]User, 0, len(list))
		for i, r := range list {
			res, ok := r.(object)
			if !ok {
				return nil, fmt.Errorf("%w: resource %d is not an object", driver.ErrBadResponse, i)
			}
			u, err := m.decodeUser(res)
			if err != nil {
				return nil, fmt.Errorf("%w: resource %d: %v", driver.ErrBadResponse, i, err)
			}
			p.Users = append(p.Users, u)
		}
	} else if _, isErr := lookup(top, "status"); isErr && p.TotalResults < 0 {
		return nil, fmt.Errorf("%w: an error object where a ListResponse was due", driver.ErrBadResponse)
	}
	return p, nil
}

// decodeObject decodes a JSON object, keeping numbers as written.
func decodeObject(body []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top object
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, fmt.Errorf("%w: not a JSON object", driver.ErrBadResponse)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", driver.ErrBadResponse)
	}
	return top, nil
}

// ServiceProviderConfig is what a server says of itself at
// /ServiceProviderConfig (RFC 7643 §5, RFC 9865 §4), as far as dirgate
// uses it.
type ServiceProviderConfig struct {
	// FilterSupported: the server filters (filter.supported).
	FilterSupported bool
	// FilterMaxResults is filter.maxResults, 0 when not said.
	FilterMaxResults int
	// Pagination is nil when the server says nothing of it (before RFC
	// 9865, index paging was the only kind).
	Pagination *Pagination
}

// Pagination is the "pagination" member of ServiceProviderConfig (RFC
// 9865 §4).
type Pagination struct {
	Cursor, Index   bool
	DefaultMethod   string // "cursor", "index" or ""
	DefaultPageSize int    // 0: not said
	MaxPageSize     int    // 0: not said
	CursorTimeout   int    // seconds; 0: not said
}

// DecodeServiceProviderConfig decodes /ServiceProviderConfig, tolerating
// member names in any case and numbers or booleans sent as strings.
func DecodeServiceProviderConfig(body []byte) (*ServiceProviderConfig, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	cfg := &ServiceProviderConfig{}
	if f, ok := value(top, "filter").(object); ok {
		cfg.FilterSupported = truth(value(f, "supported"))
		cfg.FilterMaxResults = atoi(member(f, "maxResults"))
	}
	if pg, ok := value(top, "pagination").(object); ok {
		cfg.Pagination = &Pagination{
			Cursor:          truth(value(pg, "cursor")),
			Index:           truth(value(pg, "index")),
			DefaultMethod:   strings.ToLower(strings.TrimSpace(member(pg, "defaultPaginationMethod"))),
			DefaultPageSize: atoi(member(pg, "defaultPageSize")),
			MaxPageSize:     atoi(member(pg, "maxPageSize")),
			CursorTimeout:   atoi(member(pg, "cursorTimeout")),
		}
	}
	return cfg, nil
}

// atoi reads a positive count; anything else is 0.
func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
