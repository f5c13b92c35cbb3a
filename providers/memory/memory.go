// Package memory is the reference provider: a directory held in memory.
//
// It is the model every vendor adapter is measured against (it passes
// providers/providertest in all three paging styles), and a fast,
// controllable provider for tests of the layers above: it can page in any
// style, filter on any subset of the filterable fields, count its calls,
// change its directory, fail, and hang on demand.
package memory

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dirgate/dirgate/providers/driver"
)

// Options configure a Provider. The zero value pages by offset, in pages
// of at most 100 users, and filters on every filterable field.
type Options struct {
	Paging  driver.Paging
	Company *driver.Company
	// MaxPageSize is the most users a request may ask for (offset and
	// cursor styles), and the size of each chained answer in the snapshot
	// style (0: the whole directory in one answer). Default 100 when
	// paged.
	MaxPageSize int
	// Filters are the fields it filters on itself (offset and cursor
	// styles); nil means driver.Filterable.
	Filters *driver.FieldSet
}

// Provider is an in-memory directory.
type Provider struct {
	desc    driver.Description
	company *driver.Company

	mu    sync.RWMutex
	users []driver.User
	err   error
	hang  bool

	calls atomic.Int64
}

// New returns a Provider serving users in the given order.
func New(users []driver.User, opts *Options) *Provider {
	if opts == nil {
		opts = &Options{}
	}
	d := driver.Description{Paging: opts.Paging, Totals: true, Fields: driver.AllFields, Filters: driver.Filterable, MaxPageSize: opts.MaxPageSize}
	if d.Paging == 0 {
		d.Paging = driver.PagingOffset
	}
	if opts.Filters != nil {
		d.Filters = *opts.Filters
	}
	if d.Paging == driver.PagingSnapshot {
		d.Filters = 0
	} else if d.MaxPageSize <= 0 {
		d.MaxPageSize = 100
	}
	p := &Provider{desc: d, company: opts.Company}
	p.SetUsers(users)
	return p
}

// SetUsers replaces the directory.
func (p *Provider) SetUsers(users []driver.User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = append([]driver.User(nil), users...)
}

// Users returns the directory.
func (p *Provider) Users() []driver.User {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return append([]driver.User(nil), p.users...)
}

// SetError makes every later call fail with err, until SetError(nil).
func (p *Provider) SetError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// SetHang makes every later call wait until its context ends, until
// SetHang(false).
func (p *Provider) SetHang(hang bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = hang
}

// Calls returns the number of ListUsers calls so far.
func (p *Provider) Calls() int { return int(p.calls.Load()) }

// Describe implements driver.Provider.
func (p *Provider) Describe() driver.Description { return p.desc }

// ListUsers implements driver.Provider.
func (p *Provider) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	p.calls.Add(1)
	p.mu.RLock()
	hang, ferr := p.hang, p.err
	p.mu.RUnlock()
	if hang {
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: %w: %w", driver.ErrUnavailable, err)
	}
	if ferr != nil {
		return nil, ferr
	}
	if extra := req.Filter.Fields() &^ p.desc.Filters; extra != 0 {
		return nil, fmt.Errorf("memory: %w: asked to filter on %s", driver.ErrBadResponse, extra)
	}
	if req.Limit < 0 || req.Limit > p.desc.MaxPageSize && p.desc.Paging != driver.PagingSnapshot {
		return nil, fmt.Errorf("memory: %w: limit %d", driver.ErrUnavailable, req.Limit)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	var matched []driver.User
	for i := range p.users {
		if req.Filter.Match(&p.users[i]) {
			matched = append(matched, p.users[i])
		}
	}
	page := &driver.ListPage{Company: p.company, Total: len(matched)}
	start, limit := req.Offset, req.Limit
	if p.desc.Paging != driver.PagingOffset {
		// A cursor vendor knows only its cursors; decode ours.
		start = 0
		if req.Cursor != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(req.Cursor, "m"))
			if err != nil || !strings.HasPrefix(req.Cursor, "m") || n < 0 {
				return nil, fmt.Errorf("memory: %w: bad cursor", driver.ErrBadResponse)
			}
			start = n
		}
	}
	if p.desc.Paging == driver.PagingSnapshot {
		limit = len(matched)
		if p.desc.MaxPageSize > 0 {
			limit = p.desc.MaxPageSize
		}
	}
	start = min(max(start, 0), len(matched))
	end := min(start+limit, len(matched))
	page.Users = append([]driver.User(nil), matched[start:end]...)
	if p.desc.Paging != driver.PagingOffset && end < len(matched) && limit > 0 {
		page.NextCursor = "m" + strconv.Itoa(end)
	}
	return page, nil
}

var _ driver.Provider = (*Provider)(nil)
