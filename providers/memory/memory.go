// Package memory is the reference provider: a directory held in memory.
//
// It serves as the model every vendor adapter is measured against (it
// passes providers/providertest), and as a fast, controllable provider for
// tests of the layers above. It can pretend to page in any of the three
// styles, count its calls, and fail on demand.
package memory

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/dirgate/dirgate/providers"
)

// Provider is an in-memory directory.
type Provider struct {
	paging providers.Paging

	mu      sync.RWMutex
	users   []providers.User
	company *providers.Company
	err     error

	calls atomic.Int64
}

// Options configure a Provider. The zero value pages by offset.
type Options struct {
	Paging  providers.Paging
	Company *providers.Company
}

// New returns a Provider serving users in the given order.
func New(users []providers.User, opts *Options) *Provider {
	if opts == nil {
		opts = &Options{}
	}
	p := &Provider{paging: opts.Paging, company: opts.Company}
	p.SetUsers(users)
	return p
}

// SetUsers replaces the directory.
func (p *Provider) SetUsers(users []providers.User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users = append([]providers.User(nil), users...)
}

// SetError makes every later call fail with err, until SetError(nil).
func (p *Provider) SetError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

// Calls returns the number of ListUsers calls so far.
func (p *Provider) Calls() int { return int(p.calls.Load()) }

// Describe implements providers.Provider. In the offset and cursor styles
// it applies every filter itself.
func (p *Provider) Describe() providers.Description {
	return providers.Description{
		Paging: p.paging,
		Filters: providers.FieldEmail | providers.FieldActive | providers.FieldLoginID |
			providers.FieldLastName | providers.FieldEmployeeID | providers.FieldCountryCode | providers.FieldID,
	}
}

// ListUsers implements providers.Provider.
func (p *Provider) ListUsers(ctx context.Context, req providers.ListRequest) (*providers.ListPage, error) {
	p.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: %w: %w", providers.ErrUnavailable, err)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.err != nil {
		return nil, p.err
	}
	page := &providers.ListPage{Company: p.company}
	if p.paging == providers.PagingSnapshot {
		page.Users = append([]providers.User(nil), p.users...)
		page.Total = len(page.Users)
		page.Next.Offset = page.Total
		return page, nil
	}
	start := req.Start.Offset
	if p.paging == providers.PagingCursor {
		// A real cursor vendor knows only its token; decode ours.
		start = 0
		if req.Start.Token != "" {
			n, err := strconv.Atoi(req.Start.Token[1:])
			if err != nil || req.Start.Token[0] != 'm' {
				return nil, fmt.Errorf("memory: bad cursor: %w", providers.ErrBadResponse)
			}
			start = n
		}
	}
	var matched []providers.User
	for i := range p.users {
		if providers.Match(&p.users[i], req.Filter) {
			matched = append(matched, p.users[i])
		}
	}
	page.Total = len(matched)
	start = min(max(start, 0), len(matched))
	end := min(start+max(req.Limit, 0), len(matched))
	page.Users = matched[start:end]
	page.Next.Offset = end
	if p.paging == providers.PagingCursor {
		page.Next.Token = "m" + strconv.Itoa(end)
	}
	return page, nil
}

var _ providers.Provider = (*Provider)(nil)
