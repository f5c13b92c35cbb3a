package providers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/dirgate/dirgate/providers/driver"
)

// Directory is the merged view over every configured provider, in
// configured order. It is safe for concurrent use.
type Directory struct {
	sources []*Source
	byKey   map[string]*Source
}

// NewDirectory returns a Directory over sources, in that order. Keys must be
// unique.
func NewDirectory(sources ...*Source) (*Directory, error) {
	d := &Directory{byKey: make(map[string]*Source, len(sources))}
	for _, s := range sources {
		if _, dup := d.byKey[s.Key]; dup {
			return nil, fmt.Errorf("duplicate provider key %q", s.Key)
		}
		d.byKey[s.Key] = s
		d.sources = append(d.sources, s)
	}
	return d, nil
}

// Sources returns the providers in configured order.
func (d *Directory) Sources() []*Source { return slices.Clone(d.sources) }

// Source returns the provider with the given key, or nil.
func (d *Directory) Source(key string) *Source { return d.byKey[key] }

// ErrBadCut reports a Cut that does not fit the query it is used with.
var ErrBadCut = errors.New("cut does not fit this query")

// A Cut is a point in a merged walk. The merged order is: providers in
// configured order, each provider's users in the vendor's order. A walk
// that meets a failing provider goes on with the others and keeps the
// failed provider's place, so a cut records one position per provider:
// the users of provider i before Pos[i] lie at or before the cut, the rest
// after it. Edge is the provider whose user the cut sits on: the last user
// before Pos[Edge].
type Cut struct {
	Edge int
	Pos  []Position
}

// PageRequest asks for one page of the merged connection.
type PageRequest struct {
	Filter driver.Filter
	// Keys limits the walk to these providers; nil means all. Unknown keys
	// are an error.
	Keys []string
	// After and Before bound the page (exclusive). Either may be nil.
	After, Before *Cut
	// Count is the page size; Backward takes the last Count users before
	// Before instead of the first Count after After.
	Count    int
	Backward bool
}

// Edge is one user of a page, with the cut that sits on it.
type Edge struct {
	Source *Source
	User   driver.User
	Cut    Cut
}

// Page is one page of the merged connection.
type Page struct {
	Edges           []Edge
	HasNextPage     bool
	HasPreviousPage bool
	// Failed lists the providers that failed; their users are missing from
	// the page, and the page's cuts keep their place.
	Failed []*Error

	filter  driver.Filter
	sources []*Source
	more    []int8 // per provider: 0 not read by this page, 1 more users beyond its run, -1 none
	mu      sync.Mutex
	totals  []int // -1: not known yet
}

// UnknownProviderError reports a provider key that is not configured.
type UnknownProviderError struct{ Key string }

// Error names the key.
func (e *UnknownProviderError) Error() string { return fmt.Sprintf("unknown provider %q", e.Key) }

// Resolve returns the providers a query with these keys walks, in
// configured order.
func (d *Directory) Resolve(keys []string) ([]*Source, error) {
	if keys == nil {
		return d.Sources(), nil
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		if d.byKey[k] == nil {
			return nil, &UnknownProviderError{Key: k}
		}
		want[k] = true
	}
	var out []*Source
	for _, s := range d.sources {
		if want[s.Key] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Page returns one page of the merged connection. Provider failures do not
// fail the page: they are listed in Page.Failed, beside the users of the
// others (and the users a failing provider gave before it failed). The
// error is for a bad request (*UnknownProviderError, ErrBadCut).
func (d *Directory) Page(ctx context.Context, req PageRequest) (*Page, error) {
	sources, err := d.Resolve(req.Keys)
	if err != nil {
		return nil, err
	}
	p := &Page{filter: req.Filter, sources: sources, totals: make([]int, len(sources)), more: make([]int8, len(sources))}
	for i := range p.totals {
		p.totals[i] = -1
	}
	lower, err := bound(req.After, len(sources), false)
	if err != nil {
		return nil, err
	}
	upper, err := bound(req.Before, len(sources), true)
	if err != nil {
		return nil, err
	}
	if req.Count < 0 {
		return nil, fmt.Errorf("negative page size %d", req.Count)
	}
	if req.Backward {
		p.backward(ctx, lower, upper, req.Count)
		p.HasNextPage = p.HasNextPage || req.Before != nil
	} else {
		p.forward(ctx, lower, upper, req.Count)
		p.HasPreviousPage = p.HasPreviousPage || req.After != nil
	}
	return p, nil
}

// bound turns a cursor's cut into per-provider bounds. An upper bound
// excludes the user the cut sits on.
func bound(c *Cut, n int, upper bool) ([]Position, error) {
	if c == nil {
		b := make([]Position, n)
		if upper {
			for i := range b {
				b[i].Offset = End
			}
		}
		return b, nil
	}
	if len(c.Pos) != n || c.Edge < 0 || c.Edge >= n {
		return nil, ErrBadCut
	}
	for _, p := range c.Pos {
		if p.Offset < End || p.Vendor < 0 || len(p.Anchor) > Anchors {
			return nil, ErrBadCut
		}
	}
	if c.Pos[c.Edge].Offset < 1 {
		return nil, ErrBadCut // the cut must sit on a user
	}
	b := slices.Clone(c.Pos)
	if upper {
		b[c.Edge] = b[c.Edge].before()
	}
	return b, nil
}

// fail records that provider i failed.
func (p *Page) fail(i int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.failedLocked(i) {
		p.Failed = append(p.Failed, classify(p.sources[i].Key, err))
	}
}

func (p *Page) failedLocked(i int) bool {
	return slices.ContainsFunc(p.Failed, func(e *Error) bool { return e.Provider == p.sources[i].Key })
}

// record keeps what a run of provider i says about the rest of it.
func (p *Page) record(i int, run *Run) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if run.Total >= 0 {
		p.totals[i] = run.Total
	}
	p.more[i] = -1
	if run.More {
		p.more[i] = 1
	}
}

// forward fills the page with the first count users after lower, below
// upper.
func (p *Page) forward(ctx context.Context, lower, upper []Position, count int) {
	cur := slices.Clone(lower)
	last := 0
	for i, s := range p.sources {
		if len(p.Edges) == count {
			break
		}
		last = i
		lo, hi := cur[i], upper[i]
		if lo.IsEnd() {
			continue
		}
		n := count - len(p.Edges)
		if !hi.IsEnd() {
			n = min(n, hi.Offset-lo.Offset)
		}
		if n <= 0 {
			continue
		}
		run, err := s.List(ctx, p.filter, lo, n)
		if run != nil {
			p.record(i, run)
			cur[i] = run.Start
			for j := range run.Users {
				cur[i] = run.After[j]
				p.Edges = append(p.Edges, Edge{Source: s, User: run.Users[j], Cut: Cut{Edge: i, Pos: slices.Clone(cur)}})
			}
		}
		if err != nil {
			p.fail(i, err)
		}
	}
	// More users after the page? A provider that failed may have some;
	// otherwise look no further than needed.
	p.HasNextPage = len(p.Failed) > 0
	for i := last; i < len(p.sources) && !p.HasNextPage; i++ {
		if cur[i].IsEnd() {
			continue
		}
		if !upper[i].IsEnd() {
			// Users remain below the bound: the cursor's own user at least.
			p.HasNextPage = cur[i].Offset < upper[i].Offset
			continue
		}
		p.HasNextPage = p.after(ctx, i, cur[i])
	}
}

// after reports whether provider i has users after pos, asking it unless
// this page's run of it said.
func (p *Page) after(ctx context.Context, i int, pos Position) bool {
	p.mu.Lock()
	m := p.more[i]
	p.mu.Unlock()
	if m != 0 {
		return m > 0
	}
	run, err := p.sources[i].List(ctx, p.filter, pos, 0)
	if err != nil {
		p.fail(i, err)
		return true // dirgate cannot know what it holds
	}
	p.record(i, run)
	return run.More
}

// backward fills the page with the last count users before upper, above
// lower.
func (p *Page) backward(ctx context.Context, lower, upper []Position, count int) {
	cur := slices.Clone(upper)
	var rev []Edge
	last := len(p.sources) - 1
	for i := len(p.sources) - 1; i >= 0 && len(rev) < count; i-- {
		last = i
		if lower[i].IsEnd() {
			continue // every user of i lies at or before the lower bound
		}
		s := p.sources[i]
		run, err := s.Back(ctx, p.filter, cur[i], count-len(rev), lower[i].Offset)
		if err != nil {
			p.fail(i, err)
			continue
		}
		p.record(i, run)
		for j := len(run.Users) - 1; j >= 0; j-- {
			cur[i] = run.After[j]
			rev = append(rev, Edge{Source: s, User: run.Users[j], Cut: Cut{Edge: i, Pos: slices.Clone(cur)}})
		}
		cur[i] = run.Start
	}
	slices.Reverse(rev)
	p.Edges = rev
	p.HasPreviousPage = len(p.Failed) > 0
	for i := last; i >= 0 && !p.HasPreviousPage; i-- {
		if lower[i].IsEnd() {
			continue
		}
		p.mu.Lock()
		m := p.more[i]
		p.mu.Unlock()
		switch {
		case m != 0:
			p.HasPreviousPage = m > 0
		case cur[i].IsEnd():
			total, ok := p.total(ctx, i)
			p.HasPreviousPage = !ok || total > lower[i].Offset
		default:
			p.HasPreviousPage = cur[i].Offset > lower[i].Offset
		}
	}
}

// total returns the number of users of provider i that match the filter,
// asking the provider if no run told it yet. ok is false when the
// provider failed.
func (p *Page) total(ctx context.Context, i int) (n int, ok bool) {
	p.mu.Lock()
	n, failed := p.totals[i], p.failedLocked(i)
	p.mu.Unlock()
	if n >= 0 || failed {
		return n, n >= 0
	}
	n, err := p.sources[i].Total(ctx, p.filter)
	if err != nil {
		p.fail(i, err)
		return 0, false
	}
	p.mu.Lock()
	p.totals[i] = n
	p.mu.Unlock()
	return n, true
}

// TotalCount returns the number of users matching the page's filter over
// its providers, asking the providers the page did not count, at the same
// time. Providers that fail are left out of the sum; the errors returned
// name them (providers that had already failed the page are not named
// again).
func (p *Page) TotalCount(ctx context.Context) (int, []*Error) {
	p.mu.Lock()
	before := len(p.Failed)
	p.mu.Unlock()
	var wg sync.WaitGroup
	for i := range p.sources {
		wg.Go(func() { p.total(ctx, i) })
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	sum := 0
	for i, n := range p.totals {
		if !p.failedLocked(i) {
			sum += max(n, 0)
		}
	}
	return sum, slices.Clone(p.Failed[before:])
}
