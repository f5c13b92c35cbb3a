package providers_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// offsetVendor pages by offset over users. It answers at most per users a
// request (0: as asked), or more when ignore is set; fails the requests
// whose number (from 1) fail says, temporarily; and records each request.
type offsetVendor struct {
	users  []driver.User
	per    int
	ignore int // answer this many users more than asked
	max    int // MaxPageSize; default 100
	fail   func(n int, req driver.ListRequest) error
	total  func(real int) int // the total it claims; nil: the real one
	gate   chan struct{}      // when set, each request waits for a value

	mu       sync.Mutex
	reqs     []driver.ListRequest
	failed   []bool
	inFlight int
	peak     int
}

func (v *offsetVendor) Describe() driver.Description {
	m := v.max
	if m == 0 {
		m = 100
	}
	return driver.Description{Paging: driver.PagingOffset, Totals: true, MaxPageSize: m}
}

func (v *offsetVendor) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	v.mu.Lock()
	v.reqs = append(v.reqs, req)
	n := len(v.reqs)
	v.inFlight++
	v.peak = max(v.peak, v.inFlight)
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.inFlight--
		v.mu.Unlock()
	}()
	if v.gate != nil {
		select {
		case <-v.gate:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", driver.ErrUnavailable, ctx.Err())
		}
	}
	var err error
	if v.fail != nil {
		err = v.fail(n, req)
	}
	v.mu.Lock()
	v.failed = append(v.failed, err != nil)
	v.mu.Unlock()
	if err != nil {
		return nil, err
	}
	limit := req.Limit
	if v.per > 0 {
		limit = min(limit, v.per)
	}
	limit += v.ignore
	v.mu.Lock()
	users := v.users
	v.mu.Unlock()
	lo := min(req.Offset, len(users))
	hi := min(lo+limit, len(users))
	total := len(users)
	if v.total != nil {
		total = v.total(total)
	}
	return &driver.ListPage{Users: slices.Clone(users[lo:hi]), Total: total}, nil
}

func (v *offsetVendor) requests() ([]driver.ListRequest, []bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.reqs), slices.Clone(v.failed)
}

func letters(n int) []driver.User {
	users := make([]driver.User, n)
	for i := range users {
		users[i].ID = fmt.Sprintf("u%03d", i)
	}
	return users
}

func ids(users []driver.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

// TestKeepsProgress: a page that takes several vendor requests retries
// each request on its own, so a walk whose requests fail more often than
// one request has attempts still completes, and no user is fetched twice.
// A vendor that answers fewer users than asked (7 here) is asked again
// from where its answer ended, in requests of the size it answers.
func TestKeepsProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tried := map[int]bool{}
		var mu sync.Mutex
		v := &offsetVendor{users: letters(50), per: 7, fail: func(_ int, req driver.ListRequest) error {
			mu.Lock()
			defer mu.Unlock()
			if req.Offset > 0 && !tried[req.Offset] {
				tried[req.Offset] = true // the first attempt at each offset fails
				return temporary
			}
			return nil
		}}
		s := mustSource(t, providers.Info{Key: "f"}, v, &providers.SourceOptions{MaxAttempts: 2})
		run, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 40)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(run.Users), ids(v.users[:40])) || run.Next.Offset != 40 || !run.More {
			t.Fatalf("got %v, next %d, more %t; want the first 40, next 40, more", ids(run.Users), run.Next.Offset, run.More)
		}
		reqs, failed := v.requests()
		var fetched []int // offsets answered
		failures := 0
		for i, r := range reqs {
			if failed[i] {
				failures++
				continue
			}
			fetched = append(fetched, r.Offset)
		}
		if want := []int{0, 7, 14, 21, 28, 35}; !slices.Equal(sorted(fetched), want) {
			t.Errorf("answered requests at offsets %v, want %v: each user once", sorted(fetched), want)
		}
		if failures != 5 {
			t.Errorf("%d failed requests, want 5, more than the 2 attempts of one request", failures)
		}
	})
}

func sorted(s []int) []int { s = slices.Clone(s); slices.Sort(s); return s }

// TestPartialRunOnFailure: when a request fails for good after others
// answered, the users before it come back with the error, and the run's
// last position goes on from them.
func TestPartialRunOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var broken atomic.Bool
		broken.Store(true)
		v := &offsetVendor{users: letters(30), max: 10}
		v.fail = func(_ int, req driver.ListRequest) error {
			if broken.Load() && req.Offset >= 10 {
				return fmt.Errorf("%w: HTTP 500", driver.ErrUnavailable)
			}
			return nil
		}
		s := mustSource(t, providers.Info{Key: "f"}, v, nil)
		run, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 25)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != errcode.ProviderUnavailable {
			t.Fatalf("err = %v, want PROVIDER_UNAVAILABLE", err)
		}
		if run == nil || !slices.Equal(ids(run.Users), ids(v.users[:10])) || run.Next.Offset != 10 {
			t.Fatalf("run = %+v, want the first 10 users with the error", run)
		}
		broken.Store(false)
		rest, err := s.List(t.Context(), driver.Filter{}, run.Next, 25)
		if err != nil || !slices.Equal(ids(rest.Users), ids(v.users[10:30])) {
			t.Fatalf("after it: %v, %v; want users 10 to 29", ids(rest.Users), err)
		}
	})
}

// TestEmptyPageBelowTotal: an answer with no users at an offset below the
// total it claims (Concur's `total: 2400` with empty Items) is a bad
// response, never a silent empty page that claims more.
func TestEmptyPageBelowTotal(t *testing.T) {
	v := &offsetVendor{users: letters(10), total: func(int) int { return 2400 }}
	s := mustSource(t, providers.Info{Key: "c"}, v, nil)
	run, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 50)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Code != errcode.ProviderBadResponse {
		t.Fatalf("err = %v, want PROVIDER_BAD_RESPONSE", err)
	}
	if run == nil || len(run.Users) != 10 {
		t.Errorf("run = %+v, want the 10 users it did send beside the error", run)
	}
}

// TestVendorIgnoresThePageSize: a vendor that answers more users than
// asked gives no user twice and none beyond the page.
func TestVendorIgnoresThePageSize(t *testing.T) {
	v := &offsetVendor{users: letters(30), ignore: 5, max: 10}
	s := mustSource(t, providers.Info{Key: "c"}, v, nil)
	var got []driver.User
	pos := providers.Position{}
	for {
		run, err := s.List(t.Context(), driver.Filter{}, pos, 12)
		if err != nil {
			t.Fatal(err)
		}
		if len(run.Users) > 12 {
			t.Fatalf("a page of %d users, want at most 12", len(run.Users))
		}
		got = append(got, run.Users...)
		if !run.More {
			break
		}
		pos = run.Next
	}
	if !slices.Equal(ids(got), ids(v.users)) {
		t.Errorf("walk = %v, want every user once, in order", ids(got))
	}
}

// pageSizeVendor refuses limits above max with a *driver.PageSizeError.
type pageSizeVendor struct {
	offsetVendor
	refuse int
}

func (v *pageSizeVendor) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	if req.Limit > v.refuse {
		v.mu.Lock()
		v.reqs = append(v.reqs, req)
		v.failed = append(v.failed, true)
		v.mu.Unlock()
		return nil, &driver.PageSizeError{Max: v.refuse}
	}
	return v.offsetVendor.ListUsers(ctx, req)
}

// TestPageSizeError: a vendor that refuses the page size is asked again
// with the size it takes, and from then on only with that.
func TestPageSizeError(t *testing.T) {
	v := &pageSizeVendor{offsetVendor: offsetVendor{users: letters(250), max: 1000}, refuse: 100}
	s := mustSource(t, providers.Info{Key: "c"}, v, nil)
	run, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 250)
	if err != nil || len(run.Users) != 250 {
		t.Fatalf("List = %d users, %v; want 250", len(run.Users), err)
	}
	if s.PageSize() != 100 {
		t.Errorf("PageSize = %d, want 100, as the vendor said", s.PageSize())
	}
	before, _ := v.requests()
	if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 250); err != nil {
		t.Fatal(err)
	}
	after, failed := v.requests()
	for i := len(before); i < len(after); i++ {
		if failed[i] || after[i].Limit > 100 {
			t.Errorf("request %+v after the vendor said 100: refused %t", after[i], failed[i])
		}
	}
}

// TestUnknownTotal: an offset vendor must give totals; one that does not
// is refused at start-up, and an answer without one is a bad response,
// never a page or a count silently short.
func TestUnknownTotal(t *testing.T) {
	if _, err := providers.NewSource(providers.Info{Key: "n"}, &noTotals{}, nil); err == nil {
		t.Error("NewSource accepted an offset vendor without totals")
	}
	v := &offsetVendor{users: letters(10), total: func(int) int { return -1 }}
	s := mustSource(t, providers.Info{Key: "n"}, v, nil)
	for _, limit := range []int{0, 3, 20} {
		var pe *providers.Error
		if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, limit); !errors.As(err, &pe) || pe.Code != errcode.ProviderBadResponse {
			t.Errorf("limit %d: err = %v, want PROVIDER_BAD_RESPONSE", limit, err)
		}
	}
}

type noTotals struct{ offsetVendor }

func (*noTotals) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, MaxPageSize: 10}
}

// TestProviderCap: however many requests dirgate serves at once, a
// provider has at most MaxConcurrency vendor requests in flight.
func TestProviderCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &offsetVendor{users: letters(1000), max: 100, gate: make(chan struct{})}
		s := mustSource(t, providers.Info{Key: "c"}, v, &providers.SourceOptions{MaxConcurrency: 3})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 1000); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		v.mu.Lock()
		waiting := v.inFlight
		v.mu.Unlock()
		close(v.gate)
		wg.Wait()
		if waiting != 3 || v.peak != 3 {
			t.Errorf("%d requests in flight while 20 pages of 10 requests wait, peak %d; want 3", waiting, v.peak)
		}
	})
}

// TestCallBudget: every vendor request spends one unit of the request's
// budget, retries included; when it is spent the Source stops calling and
// returns what it has with VENDOR_CALL_LIMIT_EXCEEDED.
func TestCallBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var first atomic.Bool
		v := &offsetVendor{users: letters(100), max: 10, fail: func(_ int, req driver.ListRequest) error {
			if req.Offset == 0 && !first.Swap(true) {
				return temporary // retried: spends a second unit
			}
			return nil
		}}
		s := mustSource(t, providers.Info{Key: "c"}, v, &providers.SourceOptions{MaxConcurrency: 2})
		ctx := providers.WithCallBudget(t.Context(), 4)
		run, err := s.List(ctx, driver.Filter{}, providers.Position{}, 100)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != errcode.VendorCallLimit {
			t.Fatalf("err = %v, want VENDOR_CALL_LIMIT_EXCEEDED", err)
		}
		if reqs, _ := v.requests(); len(reqs) != 4 {
			t.Errorf("%d vendor requests, want the budget's 4", len(reqs))
		}
		// What it has: whole answers, in order, at most the 3 that
		// answered.
		if run == nil || len(run.Users)%10 != 0 || len(run.Users) > 30 || !slices.Equal(ids(run.Users), ids(v.users[:len(run.Users)])) {
			t.Errorf("run = %v, want the first answers' users, in order", run)
		}
		if left, ok := providers.CallsLeft(ctx); !ok || left != 0 {
			t.Errorf("CallsLeft = %d, %t; want 0, true", left, ok)
		}
		if st := s.Status(); st.State == providers.StateFailing {
			t.Errorf("state %s: a spent budget says nothing about the vendor", st.State)
		}
	})
}

// chainVendor answers one user an answer, each naming the next with
// next(cursor) ("": the last).
type chainVendor struct {
	paging driver.Paging
	next   func(cursor string) string
	calls  atomic.Int64
}

func (v *chainVendor) Describe() driver.Description {
	return driver.Description{Paging: v.paging, MaxPageSize: 10}
}

func (v *chainVendor) ListUsers(_ context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	v.calls.Add(1)
	return &driver.ListPage{Users: []driver.User{{ID: "u" + req.Cursor}}, Total: -1, NextCursor: v.next(req.Cursor)}, nil
}

// TestChainedAnswers: an answer that names itself as the next one, or
// answers chained without end, are a bad response after a bounded number
// of vendor requests, for a cursor vendor's scan and a whole-directory
// read alike.
func TestChainedAnswers(t *testing.T) {
	for _, paging := range []driver.Paging{driver.PagingCursor, driver.PagingSnapshot} {
		for _, tt := range []struct {
			name  string
			next  func(string) string
			calls int64
		}{
			{"names itself", func(c string) string { return cmp.Or(c, "a") }, 2},
			{"never ends", func(c string) string { n, _ := strconv.Atoi(c); return strconv.Itoa(n + 1) }, 10000},
		} {
			t.Run(fmt.Sprintf("%s/%s", paging, tt.name), func(t *testing.T) {
				v := &chainVendor{paging: paging, next: tt.next}
				s := mustSource(t, providers.Info{Key: "c"}, v, nil)
				_, err := s.Total(t.Context(), driver.Filter{})
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Code != errcode.ProviderBadResponse {
					t.Errorf("err = %v, want PROVIDER_BAD_RESPONSE", err)
				}
				if n := v.calls.Load(); n != tt.calls {
					t.Errorf("%d vendor requests, want %d", n, tt.calls)
				}
			})
		}
	}
}

// idOnly is an offset vendor that holds nothing but ids.
type idOnly struct{ offsetVendor }

func (*idOnly) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, Totals: true, MaxPageSize: 10, Fields: driver.Fields(driver.FieldID)}
}

// TestRunsWithoutVendorRequests: a filter on a field the vendor does not
// hold matches none of its users, and nothing lies after the end: both
// are answered without a vendor request. A negative count is an error.
func TestRunsWithoutVendorRequests(t *testing.T) {
	v := &idOnly{offsetVendor{users: letters(10)}}
	s := mustSource(t, providers.Info{Key: "c"}, v, nil)
	email := driver.Filter{}.With(driver.FieldEmail, "a@example.com")
	end := providers.Position{Offset: providers.End}
	for _, tt := range []struct {
		name  string
		op    func() (*providers.Run, error)
		total int
	}{
		{"List on a field not held", func() (*providers.Run, error) { return s.List(t.Context(), email, providers.Position{}, 5) }, 0},
		{"Back on a field not held", func() (*providers.Run, error) { return s.Back(t.Context(), email, end, 5, 0) }, 0},
		{"List after the end", func() (*providers.Run, error) { return s.List(t.Context(), driver.Filter{}, end, 5) }, -1},
	} {
		run, err := tt.op()
		if err != nil || len(run.Users) != 0 || run.More || run.Total != tt.total {
			t.Errorf("%s: %+v, %v; want no users, no more, total %d", tt.name, run, err, tt.total)
		}
	}
	if n, err := s.Total(t.Context(), email); n != 0 || err != nil {
		t.Errorf("Total on a field not held = %d, %v; want 0", n, err)
	}
	if reqs, _ := v.requests(); len(reqs) != 0 {
		t.Errorf("%d vendor requests, want none", len(reqs))
	}
	if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, -1); err == nil {
		t.Error("List accepted a negative count")
	}
	if _, err := s.Back(t.Context(), driver.Filter{}, end, -1, 0); err == nil {
		t.Error("Back accepted a negative count")
	}
}

// TestReanchorOffset: a walk over an offset vendor whose directory changes
// before the walk's place, forwards and backwards, gives every user that
// was there all along exactly once, in order: when the vendor applies the
// whole filter (the users come from offset ranges) and when dirgate
// applies it (the users come from a scan). The changes move the place's
// offset, as the 20 repeated and 20 skipped users showed. A place
// that moved further than the window dirgate looks in (a vendor page on
// each side) is DIRECTORY_CHANGED, never a silent repeat or skip; a
// backward scan, which reads from the start, finds it anywhere.
func TestReanchorOffset(t *testing.T) {
	inserted := func(n int) []driver.User {
		out := make([]driver.User, n)
		for i := range out {
			out[i] = driver.User{ID: fmt.Sprintf("new%02d", i), Active: true}
		}
		return out
	}
	once := func(change func(users []driver.User, at int) []driver.User) func(*offsetVendor, int) {
		return func(v *offsetVendor, at int) {
			v.mu.Lock()
			v.users = change(slices.Clone(v.users), at)
			v.mu.Unlock()
		}
	}
	// churn deletes a user before the place at every request from now on:
	// the place moves again between dirgate finding it and reading after
	// it.
	churn := func(v *offsetVendor, at int) {
		v.fail = func(int, driver.ListRequest) error {
			v.mu.Lock()
			v.users = slices.Delete(slices.Clone(v.users), 0, 1)
			v.mu.Unlock()
			return nil
		}
	}
	for _, change := range []struct {
		name  string
		do    func(v *offsetVendor, at int) // at: the place's index in the vendor's users
		far   bool                          // beyond what re-anchoring finds
		churn bool
	}{
		{"20 deleted before", once(func(u []driver.User, at int) []driver.User { return slices.Delete(u, at-40, at-20) }), false, false},
		{"20 inserted before", once(func(u []driver.User, at int) []driver.User { return slices.Insert(u, at-30, inserted(20)...) }), false, false},
		{"20 deleted and 20 inserted before", once(func(u []driver.User, at int) []driver.User {
			return slices.Insert(slices.Delete(u, at-40, at-20), 10, inserted(20)...)
		}), false, false},
		{"50 deleted before, beyond the window", once(func(u []driver.User, at int) []driver.User { return slices.Delete(u, at-55, at-5) }), true, false},
		{"one deleted before at every request", churn, true, true},
	} {
		for _, filtered := range []bool{false, true} {
			for _, backward := range []bool{false, true} {
				// A backward scan reads from the start: it finds the
				// place wherever it went, and has no re-read after
				// re-anchoring for churn to fall between. (Churn while
				// one page is read, across its vendor requests, is not
				// what anchors catch: they check where each page
				// starts.)
				scanBack := filtered && backward
				if scanBack && change.churn {
					continue
				}
				mustChange := change.far && !scanBack
				t.Run(fmt.Sprintf("%s/filtered=%t/backward=%t", change.name, filtered, backward), func(t *testing.T) {
					reanchorWalk(t, change.do, mustChange, filtered, backward)
				})
			}
		}
	}
}

// reanchorWalk walks 200 users (the active ones, every other, when
// filtered: the offset vendor filters on nothing, so dirgate applies it)
// in pages of 15, over vendor requests of up to 30, and changes the
// directory before the walk's place after 4 pages.
func reanchorWalk(t *testing.T, change func(*offsetVendor, int), mustChange, filtered, backward bool) {
	v := &offsetVendor{users: letters(200), max: 30}
	var f driver.Filter
	if filtered {
		for i := range v.users {
			v.users[i].Active = i%2 == 0
		}
		f = driver.Filter{}.With(driver.FieldActive, "true")
	}
	original := slices.Clone(v.users)
	s := mustSource(t, providers.Info{Key: "c"}, v, nil)
	dir, err := providers.NewDirectory(s)
	if err != nil {
		t.Fatal(err)
	}
	var cut *providers.Cut
	var got []string // in directory order
	changed := false
	for page := 0; ; page++ {
		if page > 40 {
			t.Fatal("no end")
		}
		if page == 4 {
			// The place: the index of the first user after it, in the
			// walk's direction.
			last := got[len(got)-1]
			if backward {
				last = got[0]
			}
			at := slices.IndexFunc(v.users, func(u driver.User) bool { return u.ID == last })
			if !backward {
				at++
			}
			change(v, at)
		}
		req := providers.PageRequest{Filter: f, Count: 15, Backward: backward}
		if backward {
			req.Before = cut
		} else {
			req.After = cut
		}
		p, err := dir.Page(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Failed) > 0 {
			if !mustChange || p.Failed[0].Code != errcode.DirectoryChanged || len(p.Edges) > 0 {
				t.Fatalf("page %d: %v, %d users", page, p.Failed[0], len(p.Edges))
			}
			changed = true
			break
		}
		var ids []string
		for _, e := range p.Edges {
			ids = append(ids, e.User.ID)
		}
		more := p.HasNextPage
		if backward {
			got, more = append(ids, got...), p.HasPreviousPage
		} else {
			got = append(got, ids...)
		}
		if !more {
			break
		}
		if backward {
			cut = &p.Edges[0].Cut
		} else {
			cut = &p.Edges[len(p.Edges)-1].Cut
		}
	}
	if mustChange != changed {
		t.Fatalf("DIRECTORY_CHANGED: %t, want %t", changed, mustChange)
	}
	// Every user there all along (and matching), once, in order (up to
	// the change that stopped the walk); the others at most once.
	stayed := func(id string) bool {
		return slices.ContainsFunc(v.users, func(u driver.User) bool { return u.ID == id })
	}
	var want, have []string
	for _, u := range original {
		if stayed(u.ID) && (!filtered || u.Active) {
			want = append(want, u.ID)
		}
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("%s came twice", id)
		}
		seen[id] = true
		if !strings.HasPrefix(id, "new") && stayed(id) {
			have = append(have, id)
		}
	}
	if changed {
		return
	}
	if !slices.Equal(have, want) {
		t.Errorf("the users there all along came as %v, want %v", have, want)
	}
}
