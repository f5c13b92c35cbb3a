package providers

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers/driver"
)

// Run is a run of one provider's users matching a filter, in the vendor's
// order, as List and Back read them.
type Run struct {
	Users []driver.User
	// After[i] is the position right after Users[i].
	After []Position
	// Start is the position before Users[0]: the one asked for, found
	// again if the directory changed before it.
	Start Position
	// Next is the position after the last user (Start when there is
	// none).
	Next Position
	// More reports whether users matching the filter lie beyond the run:
	// after it for List, before it for Back.
	More bool
	// Total is the number of users matching the filter, or -1 when it is
	// not known without reading the whole directory.
	Total int
	// Company is the directory's company, when the vendor named it.
	Company *driver.Company
}

// List returns up to n users matching f after from, in the vendor's order.
// n may be 0, to learn only More and Total. When a vendor request fails
// after others succeeded, List returns the users read before it with the
// error, and the run's positions say where to go on. Errors are *Error;
// DIRECTORY_CHANGED when from's anchors are no longer near its place.
func (s *Source) List(ctx context.Context, f driver.Filter, from Position, n int) (run *Run, err error) {
	called := false
	defer func(start time.Time) { s.observe(ctx, called, err); s.observeCall(start, err) }(time.Now())
	if n < 0 {
		return nil, fmt.Errorf("negative count %d", n)
	}
	if !s.canMatch(f) {
		return &Run{Start: from, Next: from, Total: 0}, nil
	}
	if from.IsEnd() {
		return &Run{Start: from, Next: from, Total: -1}, nil
	}
	called = true
	push, local := f.Only(s.desc.Filters), f.Without(s.desc.Filters)
	switch {
	case s.desc.Paging == driver.PagingSnapshot:
		return s.listSnapshot(ctx, f, from, n)
	case s.desc.Paging == driver.PagingOffset && local.IsZero():
		return s.listOffset(ctx, push, from, n)
	}
	return s.listScan(ctx, push, local, from, n)
}

// Back returns up to n users matching f before to (End: the end of the
// directory), none of them among the first floor users, in the vendor's
// order. Run.More says whether users lie between floor and the run.
// Errors are *Error.
func (s *Source) Back(ctx context.Context, f driver.Filter, to Position, n, floor int) (run *Run, err error) {
	called := false
	defer func(start time.Time) { s.observe(ctx, called, err); s.observeCall(start, err) }(time.Now())
	if n < 0 {
		return nil, fmt.Errorf("negative count %d", n)
	}
	if !s.canMatch(f) {
		return &Run{Start: Position{}, Next: Position{}, Total: 0}, nil
	}
	called = true
	push, local := f.Only(s.desc.Filters), f.Without(s.desc.Filters)
	switch {
	case s.desc.Paging == driver.PagingSnapshot:
		return s.backSnapshot(ctx, f, to, n, floor)
	case s.desc.Paging == driver.PagingOffset && local.IsZero():
		return s.backOffset(ctx, push, to, n, floor)
	}
	return s.backScan(ctx, push, local, to, n, floor)
}

// Total returns the number of users matching f. It costs one vendor
// request when the vendor counts what it filters, and reads the whole
// directory otherwise. Errors are *Error.
func (s *Source) Total(ctx context.Context, f driver.Filter) (n int, err error) {
	called := false
	defer func(start time.Time) { s.observe(ctx, called, err); s.observeCall(start, err) }(time.Now())
	if !s.canMatch(f) {
		return 0, nil
	}
	called = true
	push, local := f.Only(s.desc.Filters), f.Without(s.desc.Filters)
	if s.desc.Paging == driver.PagingSnapshot {
		sn, err := s.snap(ctx)
		if err != nil {
			return 0, err
		}
		return len(filterUsers(sn.Users, f)), nil
	}
	if local.IsZero() && s.desc.Totals {
		page, err := s.call(ctx, driver.ListRequest{Filter: push, Limit: 0})
		if err != nil {
			return 0, err
		}
		if page.Total >= 0 {
			s.setHint(push, page.Total)
			return page.Total, nil
		}
		if s.desc.Paging == driver.PagingOffset {
			return 0, badResponse(s.Key, "an offset vendor's answer without a total")
		}
	}
	count := 0
	err = s.scan(ctx, push, Position{}, func(u *driver.User, _ Position) bool {
		if local.Match(u) {
			count++
		}
		return true
	})
	return count, err
}

// canMatch reports whether any user of the vendor can match f: a filter on
// a field the vendor does not hold matches none.
func (s *Source) canMatch(f driver.Filter) bool {
	return f.Fields()&^s.desc.Fields == 0
}

// changed is the DIRECTORY_CHANGED error.
func (s *Source) changed() *Error {
	return &Error{Provider: s.Key, Code: errcode.DirectoryChanged, Err: ErrDirectoryChanged}
}

// newRun builds a run from users read after start; pos(i) gives the
// vendor part of the position after users[i].
func (s *Source) newRun(start Position, users []driver.User, pos func(i int) Position) *Run {
	run := &Run{Users: users, After: make([]Position, len(users)), Start: start, Next: start, Total: -1}
	for i := range users {
		p := pos(i)
		p.Offset = start.Offset + i + 1
		p.Anchor = anchorsAfter(start.Anchor, users, i)
		run.After[i] = p
	}
	if len(users) > 0 {
		run.Next = run.After[len(users)-1]
	}
	s.mu.Lock()
	run.Company = s.comp
	s.mu.Unlock()
	return run
}

// Whole-directory vendors.

func filterUsers(users []driver.User, f driver.Filter) []driver.User {
	if f.IsZero() {
		return users
	}
	var out []driver.User
	for i := range users {
		if f.Match(&users[i]) {
			out = append(out, users[i])
		}
	}
	return out
}

// locate returns the index in users just after p: p.Offset when p's last
// anchor is the user before it, else just after the last of p's anchors
// still in users (the directory changed), with the anchors that remain.
func locate(users []driver.User, p Position) (int, []uint64, bool) {
	if len(p.Anchor) == 0 || p.Offset <= 0 {
		return min(max(p.Offset, 0), len(users)), p.Anchor, true
	}
	if p.Offset <= len(users) && anchorOf(&users[p.Offset-1]) == lastAnchor(p) {
		return p.Offset, p.Anchor, true
	}
	return findAnchor(users, p.Anchor)
}

// findAnchor returns the index in users just after the latest of anchors
// found there, with the anchors up to it; ok is false when none is there.
func findAnchor(users []driver.User, anchors []uint64) (int, []uint64, bool) {
	for a := len(anchors) - 1; a >= 0; a-- {
		for i := range users {
			if anchorOf(&users[i]) == anchors[a] {
				return i + 1, anchors[:a+1], true
			}
		}
	}
	return 0, nil, false
}

func (s *Source) listSnapshot(ctx context.Context, f driver.Filter, from Position, n int) (*Run, error) {
	sn, err := s.snap(ctx)
	if err != nil {
		return nil, err
	}
	users := filterUsers(sn.Users, f)
	at, anchors, ok := locate(users, from)
	if !ok {
		return nil, s.changed()
	}
	start := Position{Offset: at, Anchor: anchors}
	end := min(at+n, len(users))
	run := s.newRun(start, users[at:end:end], func(int) Position { return Position{} })
	run.More, run.Total, run.Company = end < len(users), len(users), sn.Company
	return run, nil
}

func (s *Source) backSnapshot(ctx context.Context, f driver.Filter, to Position, n, floor int) (*Run, error) {
	sn, err := s.snap(ctx)
	if err != nil {
		return nil, err
	}
	users := filterUsers(sn.Users, f)
	hi := len(users)
	if !to.IsEnd() {
		var ok bool
		if hi, _, ok = locate(users, to); !ok {
			return nil, s.changed()
		}
	}
	lo := min(max(floor, hi-n, 0), hi)
	start := Position{Offset: lo}
	if lo > 0 {
		start.Anchor = anchorsAfter(nil, users, lo-1)
	}
	run := s.newRun(start, users[lo:hi:hi], func(int) Position { return Position{} })
	run.More, run.Total, run.Company = lo > max(floor, 0), len(users), sn.Company
	return run, nil
}

// Offset vendors.

// chunk is one request's worth of a range: limit users from offset.
type chunk struct{ offset, limit int }

// plan splits want users from offset into requests of at most size.
func plan(offset, want, size int) []chunk {
	var out []chunk
	for n := 0; n < want; n += size {
		out = append(out, chunk{offset + n, min(size, want-n)})
	}
	return out
}

type chunkResult struct {
	page *driver.ListPage
	err  error
}

// fetchChunks makes the requests of a plan at the same time (the
// provider's cap bounds how many are in flight) and returns their answers
// in the plan's order. A failure cancels the requests after it; the ones
// before it run to their end.
func (s *Source) fetchChunks(ctx context.Context, push driver.Filter, chunks []chunk) []chunkResult {
	out := make([]chunkResult, len(chunks))
	if len(chunks) == 1 {
		out[0].page, out[0].err = s.call(ctx, driver.ListRequest{Filter: push, Offset: chunks[0].offset, Limit: chunks[0].limit})
		return out
	}
	ctxs := make([]context.Context, len(chunks))
	cancels := make([]context.CancelFunc, len(chunks))
	for i := range chunks {
		ctxs[i], cancels[i] = context.WithCancel(ctx)
	}
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Go(func() {
			page, err := s.call(ctxs[i], driver.ListRequest{Filter: push, Offset: c.offset, Limit: c.limit})
			out[i] = chunkResult{page, err}
			if err != nil {
				for _, cancel := range cancels[i+1:] {
					cancel() // safe from several goroutines at once
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cancels {
		c()
	}
	return out
}

// fetchRange reads count of the vendor's users matching push from vendor
// offset from (fewer at the end), in requests of the page size, at the
// same time. It never assumes the vendor honoured a limit: it advances by
// the users received, asks again from there when an answer is short of
// the total, and drops users beyond what it asked for. An empty answer
// below the total is a bad response. It returns the users read before a
// failure with the failure, and the vendor's last total (-1: no answer).
func (s *Source) fetchRange(ctx context.Context, push driver.Filter, from, count int) ([]driver.User, int, error) {
	var users []driver.User
	total, off := -1, from
	for count > 0 {
		want := count
		switch h, ok := s.hint(push); {
		case total >= 0:
			want = min(want, total-off)
		case ok:
			// Do not ask for pages the directory most likely does not
			// have; if it grew, the total says so and the next round
			// reads the rest.
			want = min(want, max(h-off, 1))
		default:
			// Nothing known of the directory's size: a first round of
			// what the provider's cap runs at once tells it.
			want = min(want, s.pageSize()*s.opts.MaxConcurrency)
		}
		if want <= 0 {
			break
		}
		chunks := plan(off, want, s.pageSize())
		progress := false
		for i, r := range s.fetchChunks(ctx, push, chunks) {
			if r.err != nil {
				return users, total, r.err
			}
			if r.page.Total < 0 {
				return users, total, badResponse(s.Key, "an offset vendor's answer without a total")
			}
			total = r.page.Total
			got := r.page.Users[:min(len(r.page.Users), chunks[i].limit)]
			if len(got) == 0 && chunks[i].offset < total {
				return users, total, badResponse(s.Key, "an empty answer at offset %d, below its total of %d", chunks[i].offset, total)
			}
			users = append(users, got...)
			off += len(got)
			count -= len(got)
			progress = progress || len(got) > 0
			if len(got) < chunks[i].limit {
				// Short of what was asked: the vendor's pages are smaller
				// than ours, or the directory ends here. The answers after
				// this one start in the wrong place.
				if off < total {
					s.learn(len(got))
				}
				break
			}
		}
		s.setHint(push, total)
		if !progress {
			break
		}
	}
	return users, total, nil
}

// reanchor finds p's anchors again among the vendor's users around
// vendor offset p.Vendor, in a window of a page on each side. It returns
// the vendor offset just after the last anchor found, and the anchors that
// remain; DIRECTORY_CHANGED when none is there.
func (s *Source) reanchor(ctx context.Context, push driver.Filter, p Position) (int, []uint64, error) {
	w := max(s.pageSize(), 2*Anchors)
	lo := max(p.Vendor-w, 0)
	users, _, err := s.fetchRange(ctx, push, lo, p.Vendor+w-lo)
	if err != nil {
		return 0, nil, err
	}
	i, anchors, ok := findAnchor(users, p.Anchor)
	if !ok {
		return 0, nil, s.changed()
	}
	return lo + i, anchors, nil
}

func lastAnchor(p Position) uint64 { return p.Anchor[len(p.Anchor)-1] }

// listOffset lists an offset vendor that applies the whole filter: the
// users come from one range read, the anchor before them included.
func (s *Source) listOffset(ctx context.Context, push driver.Filter, from Position, n int) (*Run, error) {
	anchored := len(from.Anchor) > 0 && from.Vendor > 0
	read := func(from Position) ([]driver.User, int, error) {
		if !anchored {
			return s.fetchRange(ctx, push, from.Vendor, n)
		}
		return s.fetchRange(ctx, push, from.Vendor-1, n+1)
	}
	users, total, err := read(from)
	if n == 0 && !anchored && total < 0 && err == nil {
		t, terr := s.Total(ctx, push)
		if terr != nil {
			return nil, terr
		}
		total = t
	}
	if anchored && (len(users) == 0 || anchorOf(&users[0]) != lastAnchor(from)) {
		if len(users) == 0 && err != nil {
			return nil, err
		}
		v, anchors, rerr := s.reanchor(ctx, push, from)
		if rerr != nil {
			return nil, rerr
		}
		from = Position{Offset: v, Vendor: v, Anchor: anchors}
		if users, total, err = read(from); len(users) == 0 || anchorOf(&users[0]) != lastAnchor(from) {
			if len(users) == 0 && err != nil {
				return nil, err
			}
			return nil, s.changed() // changing faster than it can be read
		}
	}
	if anchored {
		users = users[1:]
	}
	v := from.Vendor
	run := s.newRun(from, users, func(i int) Position { return Position{Vendor: v + i + 1} })
	run.Total = total
	run.More = total < 0 || v+len(users) < total
	return run, err
}

// backOffset lists the users before to of an offset vendor that applies
// the whole filter.
func (s *Source) backOffset(ctx context.Context, push driver.Filter, to Position, n, floor int) (*Run, error) {
	hi := to.Vendor
	anchored := !to.IsEnd() && len(to.Anchor) > 0 && hi > 0
	if to.IsEnd() {
		t, err := s.Total(ctx, push)
		if err != nil {
			return nil, err
		}
		hi = t
	}
	var users []driver.User
	var total, lo, extra int
	for try := 0; ; try++ {
		lo = min(max(floor, hi-n, 0), hi)
		extra = min(Anchors, lo) // users before lo, for the anchors of lo
		var err error
		users, total, err = s.fetchRange(ctx, push, lo-extra, hi-lo+extra)
		if err != nil {
			return nil, err
		}
		if !anchored || (len(users) == hi-lo+extra && anchorOf(&users[len(users)-1]) == lastAnchor(to)) {
			break
		}
		if try > 0 {
			return nil, s.changed()
		}
		v, anchors, err := s.reanchor(ctx, push, to)
		if err != nil {
			return nil, err
		}
		to, hi = Position{Offset: v, Vendor: v, Anchor: anchors}, v
	}
	users = users[:min(len(users), hi-lo+extra)]
	start := Position{Offset: lo, Vendor: lo}
	if extra > 0 {
		start.Anchor = anchorsAfter(nil, users[:extra], extra-1)
	}
	run := s.newRun(start, users[extra:], func(i int) Position { return Position{Vendor: lo + i + 1} })
	run.Total, run.More = total, lo > max(floor, 0)
	return run, nil
}

// Partial pushdown, and cursor vendors: reading the vendor's list in
// order, applying the rest of the filter.

// scan reads the vendor's users matching push from position from on, in
// order, handing each to yield with the position in the vendor's list
// just after it (Offset is not set), until yield returns false or the
// list ends. For an offset vendor, from.Vendor is where it starts; for a
// cursor vendor, from.Cursor and from.Vendor.
func (s *Source) scan(ctx context.Context, push driver.Filter, from Position, yield func(*driver.User, Position) bool) error {
	if s.desc.Paging == driver.PagingCursor {
		skip := from.Vendor
		return s.chain(ctx, push, from.Cursor, s.pageSize(), func(page *driver.ListPage, cursor string) bool {
			for i := skip; i < len(page.Users); i++ {
				if !yield(&page.Users[i], Position{Cursor: cursor, Vendor: i + 1}) {
					return false
				}
			}
			skip = 0
			return true
		})
	}
	off, batch := from.Vendor, s.pageSize()
	for {
		users, total, err := s.fetchRange(ctx, push, off, batch)
		for i := range users {
			if !yield(&users[i], Position{Vendor: off + i + 1}) {
				return nil
			}
		}
		if err != nil {
			return err
		}
		off += len(users)
		if len(users) < batch || off >= total {
			return nil
		}
		// Read further ahead each time, up to what the provider's cap runs
		// at once.
		batch = min(batch*2, s.pageSize()*s.opts.MaxConcurrency)
	}
}

// maxAnswers bounds the chained answers of one read.
const maxAnswers = 10000

// chain reads a cursor or snapshot vendor's chained answers matching push,
// from the one cursor names on, handing each to yield with the cursor that
// named it, until yield returns false or the last answer has been handed.
// An answer that names itself as the next, or more than maxAnswers of
// them, is a bad response.
func (s *Source) chain(ctx context.Context, push driver.Filter, cursor string, limit int, yield func(page *driver.ListPage, cursor string) bool) error {
	for answers := 0; ; answers++ {
		if answers >= maxAnswers {
			return badResponse(s.Key, "more than %d chained answers", maxAnswers)
		}
		page, err := s.call(ctx, driver.ListRequest{Filter: push, Cursor: cursor, Limit: limit})
		if err != nil {
			return err
		}
		if !yield(page, cursor) || page.NextCursor == "" {
			return nil
		}
		if page.NextCursor == cursor {
			return badResponse(s.Key, "an answer that names itself as the next one")
		}
		cursor = page.NextCursor
	}
}

// scanFrom is scan from from, checking first that the user before from is
// still its last anchor. ok is false when it is not (the directory changed
// before from); then nothing was yielded.
func (s *Source) scanFrom(ctx context.Context, push driver.Filter, from Position, yield func(*driver.User, Position) bool) (ok bool, err error) {
	if len(from.Anchor) == 0 || from.Vendor == 0 {
		return true, s.scan(ctx, push, from, yield)
	}
	begin := from
	begin.Vendor-- // the anchor user itself
	first := true
	err = s.scan(ctx, push, begin, func(u *driver.User, at Position) bool {
		if first {
			first = false
			ok = anchorOf(u) == lastAnchor(from)
			return ok
		}
		return yield(u, at)
	})
	return ok, err
}

// reanchorScan finds from's anchors again after the directory changed
// before it: for an offset vendor in a window of its list around
// from.Vendor, for a cursor vendor in the answer from.Cursor names.
func (s *Source) reanchorScan(ctx context.Context, push driver.Filter, from Position) (Position, error) {
	if s.desc.Paging == driver.PagingOffset {
		v, anchors, err := s.reanchor(ctx, push, from)
		if err != nil {
			return Position{}, err
		}
		return Position{Offset: max(from.Offset-(len(from.Anchor)-len(anchors)), 0), Vendor: v, Anchor: anchors}, nil
	}
	page, err := s.call(ctx, driver.ListRequest{Filter: push, Cursor: from.Cursor, Limit: s.pageSize()})
	if err != nil {
		return Position{}, err
	}
	// Only the last anchor is looked for in that answer: an earlier one
	// found there proves nothing when the vendor's cursor holds an offset,
	// since the last anchor may have moved on to the next answer, and
	// going on after the earlier one would repeat the users between.
	last := len(from.Anchor) - 1
	for i := range page.Users {
		if anchorOf(&page.Users[i]) == from.Anchor[last] {
			return Position{Offset: from.Offset, Cursor: from.Cursor, Vendor: i + 1, Anchor: from.Anchor}, nil
		}
	}
	// Not in that answer: the vendor's cursor moved with the change (it
	// holds an offset), or the last anchor is gone. Look for the anchors
	// from the start.
	found := map[uint64]Position{}
	count := 0
	err = s.scan(ctx, push, Position{}, func(u *driver.User, at Position) bool {
		a := anchorOf(u)
		if slices.Contains(from.Anchor, a) {
			at.Offset = count
			found[a] = at
		}
		count++
		return len(found) < len(from.Anchor)
	})
	if err != nil {
		return Position{}, err
	}
	for a := len(from.Anchor) - 1; a >= 0; a-- {
		if at, ok := found[from.Anchor[a]]; ok {
			// The offset among all the vendor's users is an upper bound
			// of the offset among those matching the filter.
			at.Offset, at.Anchor = min(at.Offset+1, max(from.Offset-(len(from.Anchor)-a-1), 0)), from.Anchor[:a+1]
			return at, nil
		}
	}
	return Position{}, s.changed()
}

// listScan lists a vendor by scanning it: an offset vendor that cannot
// apply the whole filter, or a cursor vendor. It reads one matching user
// beyond the n it returns, to know whether more follow.
func (s *Source) listScan(ctx context.Context, push, local driver.Filter, from Position, n int) (*Run, error) {
	var users []driver.User
	var vend []Position
	var more bool
	collect := func(from Position) (bool, error) {
		users, vend, more = nil, nil, false
		return s.scanFrom(ctx, push, from, func(u *driver.User, at Position) bool {
			if !local.Match(u) {
				return true
			}
			if len(users) == n {
				more = true
				return false
			}
			users, vend = append(users, *u), append(vend, at)
			return true
		})
	}
	ok, err := collect(from)
	if !ok {
		if err != nil {
			return nil, err
		}
		if from, err = s.reanchorScan(ctx, push, from); err != nil {
			return nil, err
		}
		if ok, err = collect(from); !ok {
			if err != nil {
				return nil, err
			}
			return nil, s.changed()
		}
	}
	if err != nil && len(users) == 0 {
		return nil, err
	}
	run := s.newRun(from, users, func(i int) Position { return vend[i] })
	run.More = more || err != nil
	if !more && err == nil {
		run.Total = from.Offset + len(users)
	}
	return run, err
}

// match is a user a scan found, with the position after it.
type match struct {
	user driver.User
	at   Position
}

// backScan lists the users before to by scanning the vendor from its
// start (a cursor vendor reads forwards only, and a vendor that cannot
// apply the filter cannot count what lies before a place): a vendor that
// cannot apply the whole filter, or a cursor vendor.
func (s *Source) backScan(ctx context.Context, push, local driver.Filter, to Position, n, floor int) (*Run, error) {
	keep := n + Anchors
	// stopAt is the anchor to stop after (0: none); limit, for a position
	// without anchors, the number of matches before it.
	pass := func(stopAt uint64, limit int, seen map[uint64]bool) (ring []match, count int, found bool, err error) {
		err = s.scan(ctx, push, Position{}, func(u *driver.User, at Position) bool {
			if !local.Match(u) {
				return true
			}
			if stopAt == 0 && limit >= 0 && count == limit {
				found = true
				return false
			}
			a := anchorOf(u)
			if seen != nil {
				seen[a] = true
			}
			ring = append(ring, match{*u, at})
			if len(ring) > keep {
				ring = ring[1:]
			}
			count++
			if stopAt != 0 && a == stopAt {
				found = true
				return false
			}
			return true
		})
		return ring, count, found, err
	}
	var ring []match
	var hi int
	var err error
	total := -1
	switch {
	case to.IsEnd():
		ring, hi, _, err = pass(0, -1, nil)
		total = hi
	case len(to.Anchor) == 0:
		ring, hi, _, err = pass(0, to.Offset, nil)
	default:
		seen := map[uint64]bool{}
		var found bool
		ring, hi, found, err = pass(lastAnchor(to), -1, seen)
		if err == nil && !found {
			// The last anchor is gone: stop after the latest one left.
			for a := len(to.Anchor) - 2; a >= 0 && !found; a-- {
				if seen[to.Anchor[a]] {
					ring, hi, found, err = pass(to.Anchor[a], -1, nil)
				}
			}
			if err == nil && !found {
				return nil, s.changed()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	lo := min(max(floor, hi-n, 0), hi)
	first := len(ring) - (hi - lo) // ring holds matches hi-len(ring) .. hi-1
	start := Position{Offset: lo}
	if first > 0 {
		prev := ring[first-1]
		start = prev.at
		start.Offset = lo
		var before []driver.User
		for _, m := range ring[:first] {
			before = append(before, m.user)
		}
		start.Anchor = anchorsAfter(nil, before, len(before)-1)
	}
	users := make([]driver.User, 0, hi-lo)
	var vend []Position
	for _, m := range ring[first:] {
		users, vend = append(users, m.user), append(vend, m.at)
	}
	run := s.newRun(start, users, func(i int) Position { return vend[i] })
	run.Total, run.More = total, lo > max(floor, 0)
	return run, nil
}
