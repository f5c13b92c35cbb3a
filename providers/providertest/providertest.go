// Package providertest is the conformance suite every provider adapter
// passes, in the manner of go-cloud's drivertest: an adapter's test calls
// Run with a HarnessMaker that wires the real adapter to an emulator of its
// vendor, and the suite checks, directly and through the portable layer,
// that the adapter keeps the driver contract: listing, paging both ways,
// totals, every filter, lookups, the company, errors classified right and
// free of secrets, contexts honoured, concurrent use, the page size asked
// for, and walks that stay exactly-once (or say DIRECTORY_CHANGED) when
// the directory changes under them.
//
// The suite is itself tested against adapters with planted defects (see
// suite_test.go), each of which it must reject.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// Harness wires an adapter to its vendor for one test. The suite calls a
// HarnessMaker once per test, MakeProvider once per harness, and Close at
// the end.
type Harness interface {
	// MakeProvider returns a provider over a vendor that serves users, in
	// that order, for company (nil: the vendor names none).
	MakeProvider(ctx context.Context, users []driver.User, company *driver.Company) (driver.Provider, error)
	// SetUsers changes the vendor's directory, as people joining and
	// leaving a company do while dirgate walks it.
	SetUsers(users []driver.User)
	// Fault makes the vendor answer every later request of the API (token
	// requests excluded) the given way; the zero Fault ends it. It returns
	// false for a way this vendor cannot fail (a file is never rate
	// limited): the suite skips the checks of that fault.
	Fault(f Fault) bool
	// Requests returns the number of API requests the vendor received.
	Requests() int
	// Secrets returns the credentials the provider was given: no error may
	// contain any of them.
	Secrets() []string
	// Close releases what the harness holds; a request the vendor holds
	// (FaultHang) is let go.
	Close()
}

// HarnessMaker makes a Harness for one test.
type HarnessMaker func(ctx context.Context, t *testing.T) (Harness, error)

// FaultKind is a way a vendor fails.
type FaultKind int

// The faults a harness injects.
const (
	NoFault FaultKind = iota
	// FaultUnavailable: HTTP 503, with a Retry-After header when
	// Fault.RetryAfter is set: temporary.
	FaultUnavailable
	// FaultServerError: HTTP 500: unavailable, and final.
	FaultServerError
	// FaultRateLimited: HTTP 429, with Retry-After when set.
	FaultRateLimited
	// FaultAuth: the vendor refuses dirgate's credentials everywhere.
	FaultAuth
	// FaultBadResponse: a 200 whose body is not the vendor's format.
	FaultBadResponse
	// FaultDisconnect: the connection drops before an answer: temporary.
	FaultDisconnect
	// FaultHang: no answer until the request is cancelled.
	FaultHang
)

// Fault is a FaultKind, with the seconds of its Retry-After header.
type Fault struct {
	Kind       FaultKind
	RetryAfter int
}

// Options tune the suite to a vendor.
type Options struct {
	// Carries maps a user onto what the vendor returns of it; nil zeroes
	// the fields the description does not hold.
	Carries func(driver.User) driver.User
	// NoRetryAfter says the vendor's 503 and 429 answers carry no retry
	// time the adapter can read.
	NoRetryAfter bool
	// NoCompany says the vendor never names the directory's company:
	// then the provider must not name one either.
	NoCompany bool
	// Liveness bounds how long the suite waits for a call that should
	// have returned (a cancelled one); default DefaultLiveness. It detects
	// calls that never return, and is no measure of speed.
	Liveness time.Duration
}

// DefaultLiveness is Options.Liveness when it is zero.
const DefaultLiveness = 10 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, newHarness HarnessMaker, opts *Options) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.Liveness <= 0 {
		opts.Liveness = DefaultLiveness
	}
	s := &suite{newHarness: newHarness, opts: opts}
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Describe", s.testDescribe},
		{"Walk", s.testWalk},
		{"WalkBackward", s.testWalkBackward},
		{"Filters", s.testFilters},
		{"FilteredPaging", s.testFilteredPaging},
		{"Empty", s.testEmpty},
		{"Lookups", s.testLookups},
		{"Company", s.testCompany},
		{"Totals", s.testTotals},
		{"PageSize", s.testPageSize},
		{"Faults", s.testFaults},
		{"Retries", s.testRetries},
		{"Cancellation", s.testCancellation},
		{"Concurrency", s.testConcurrency},
		{"DirectoryChanges", s.testDirectoryChanges},
	} {
		t.Run(c.name, c.test)
	}
}

type suite struct {
	newHarness HarnessMaker
	opts       *Options
}

// env is one test's harness, provider and Source.
type env struct {
	t     *testing.T
	h     Harness
	p     driver.Provider
	src   *providers.Source
	desc  driver.Description
	users []driver.User
	want  []driver.User // users as the vendor carries them
	carry func(driver.User) driver.User
}

// TestCompany is the company the suite's vendors name.
var TestCompany = driver.Company{Name: "Conformance Ltd", Address: "1 Rue du Test", City: "Lyon", Zip: "69001", Country: "FR"}

// sourceOptions are the portable layer's options in the suite: quick
// retries, no cache (every request sees the vendor's directory as it is).
var sourceOptions = providers.SourceOptions{MaxAttempts: 3, RetryBase: time.Millisecond, MaxRetryWait: 10 * time.Millisecond, Timeout: 20 * time.Second}

func (s *suite) setup(t *testing.T, users []driver.User, company *driver.Company) *env {
	t.Helper()
	h, err := s.newHarness(t.Context(), t)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(h.Close)
	p, err := h.MakeProvider(t.Context(), users, company)
	if err != nil {
		t.Fatalf("MakeProvider: %v", err)
	}
	e := &env{t: t, h: h, p: p, users: users, desc: p.Describe()}
	opts := sourceOptions
	if e.src, err = providers.NewSource(providers.Info{Key: "p", Kind: "test"}, p, &opts); err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	e.desc = e.src.Description()
	e.carry = s.opts.Carries
	if e.carry == nil {
		fields := e.desc.Fields
		e.carry = func(u driver.User) driver.User { return Hold(u, fields) }
	}
	for _, u := range users {
		e.want = append(e.want, e.carry(u))
	}
	return e
}

// Hold returns u with the fields outside fields zeroed.
func Hold(u driver.User, fields driver.FieldSet) driver.User {
	var out driver.User
	for f := range fields.All() {
		f.Set(&out, f.Value(&u))
	}
	out.Emails = nil
	if fields.Has(driver.FieldEmails) {
		out.Emails = slices.Clone(u.Emails)
	}
	out.CreatedAt, out.LastActivityAt = time.Time{}, time.Time{}
	if fields.Has(driver.FieldCreatedAt) {
		out.CreatedAt = u.CreatedAt
	}
	if fields.Has(driver.FieldLastActivityAt) {
		out.LastActivityAt = u.LastActivityAt
	}
	return out
}

// walk lists every user matching f in pages of n, following the runs'
// positions.
func (e *env) walk(f driver.Filter, n int) []driver.User {
	e.t.Helper()
	var got []driver.User
	pos := providers.Position{}
	for calls := 0; ; calls++ {
		if calls > len(e.users)+2 {
			e.t.Fatalf("page size %d: no end after %d pages", n, calls)
		}
		run, err := e.src.List(e.t.Context(), f, pos, n)
		if err != nil {
			e.t.Fatalf("page size %d: List after %d users: %v", n, len(got), err)
		}
		if len(run.Users) > n {
			e.t.Fatalf("page size %d: a page of %d users", n, len(run.Users))
		}
		got = append(got, run.Users...)
		if !run.More {
			return got
		}
		if len(run.Users) < n {
			e.t.Fatalf("page size %d: a short page of %d with more to come", n, len(run.Users))
		}
		pos = run.Next
	}
}

// walkBack lists every user matching f backwards in pages of n.
func (e *env) walkBack(f driver.Filter, n int) []driver.User {
	e.t.Helper()
	var got []driver.User
	pos := providers.Position{Offset: providers.End}
	for calls := 0; ; calls++ {
		if calls > len(e.users)+2 {
			e.t.Fatalf("page size %d backwards: no end after %d pages", n, calls)
		}
		run, err := e.src.Back(e.t.Context(), f, pos, n, 0)
		if err != nil {
			e.t.Fatalf("page size %d backwards: Back after %d users: %v", n, len(got), err)
		}
		if len(run.Users) > n {
			e.t.Fatalf("page size %d backwards: a page of %d users", n, len(run.Users))
		}
		got = append(slices.Clone(run.Users), got...)
		if !run.More {
			return got
		}
		pos = run.Start
	}
}

func (e *env) expect(f driver.Filter) []driver.User {
	var out []driver.User
	for i := range e.want {
		if f.Match(&e.want[i]) {
			out = append(out, e.want[i])
		}
	}
	return out
}

func (s *suite) testDescribe(t *testing.T) {
	e := s.setup(t, Dataset(3), nil)
	d := e.p.Describe()
	if d.Paging == driver.PagingOffset && !d.Totals {
		t.Errorf("an offset vendor must give totals")
	}
	if d.Paging != driver.PagingSnapshot && d.MaxPageSize < 1 {
		t.Errorf("MaxPageSize %d: a paged vendor must say how many users a request may ask for", d.MaxPageSize)
	}
	if d.PageSize > d.MaxPageSize {
		t.Errorf("PageSize %d above MaxPageSize %d", d.PageSize, d.MaxPageSize)
	}
	if d.Fields != 0 && !d.Fields.Has(driver.FieldID) {
		t.Errorf("Fields %s: every vendor holds the id", d.Fields)
	}
}

func (s *suite) testWalk(t *testing.T) {
	users := Dataset(53)
	e := s.setup(t, users, &TestCompany)
	for _, n := range []int{1, 3, 7, 10, 53, 100, 1000} {
		if d := Diff(e.walk(driver.Filter{}, n), e.want); d != "" {
			t.Errorf("walk in pages of %d: %s", n, d)
		}
	}
}

func (s *suite) testWalkBackward(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	for _, n := range []int{1, 7, 10, 53, 1000} {
		if d := Diff(e.walkBack(driver.Filter{}, n), e.want); d != "" {
			t.Errorf("walk backwards in pages of %d: %s", n, d)
		}
	}
}

func (s *suite) testFilters(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	for _, tt := range filterCases(e.users) {
		expect := e.expect(tt.filter)
		run, err := e.src.List(t.Context(), tt.filter, providers.Position{}, 1000)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if d := Diff(run.Users, expect); d != "" {
			t.Errorf("%s: %s", tt.name, d)
		}
		if total, err := e.src.Total(t.Context(), tt.filter); err != nil || total != len(expect) {
			t.Errorf("%s: Total = %d, %v; want %d", tt.name, total, err, len(expect))
		}
	}
}

// testFilteredPaging walks filtered users in pages: active users, which
// most vendors filter themselves, and users of one last name, which a
// vendor that filters on less leaves to the portable layer.
func (s *suite) testFilteredPaging(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	for _, tt := range []struct {
		name   string
		filter driver.Filter
		n      int
	}{
		{"active users", driver.Filter{}.With(driver.FieldActive, "true"), 4},
		{"users named " + e.users[0].LastName, driver.Filter{}.With(driver.FieldLastName, e.users[0].LastName), 3},
	} {
		expect := e.expect(tt.filter)
		if d := Diff(e.walk(tt.filter, tt.n), expect); d != "" {
			t.Errorf("%s in pages of %d: %s", tt.name, tt.n, d)
		}
		if d := Diff(e.walkBack(tt.filter, tt.n), expect); d != "" {
			t.Errorf("%s backwards in pages of %d: %s", tt.name, tt.n, d)
		}
	}
}

func (s *suite) testEmpty(t *testing.T) {
	e := s.setup(t, nil, nil)
	run, err := e.src.List(t.Context(), driver.Filter{}, providers.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Users) != 0 || run.More {
		t.Errorf("empty directory: %d users, more %t; want none", len(run.Users), run.More)
	}
	if total, err := e.src.Total(t.Context(), driver.Filter{}); err != nil || total != 0 {
		t.Errorf("empty directory: Total = %d, %v; want 0", total, err)
	}
}

func (s *suite) testLookups(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	ids := []string{e.users[0].ID, e.users[17].ID, "nobody-has-this-id", e.users[52].ID}
	got, errs := e.src.UsersByID(t.Context(), ids)
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("UsersByID(%q): %v", id, errs[i])
		}
		var want []driver.User
		if i != 2 {
			want = e.want[[]int{0, 17, 0, 52}[i] : []int{0, 17, 0, 52}[i]+1]
		}
		var have []driver.User
		if got[i] != nil {
			have = []driver.User{*got[i]}
		}
		if d := Diff(have, want); d != "" {
			t.Errorf("UsersByID(%q): %s", id, d)
		}
	}
	if !e.desc.Fields.Has(driver.FieldEmail) {
		return
	}
	emails := []string{providers.NormalizeEmail(e.users[5].Email), "nobody@nowhere.example"}
	lists, errs := e.src.UsersByEmail(t.Context(), emails)
	for i, email := range emails {
		if errs[i] != nil {
			t.Fatalf("UsersByEmail(%q): %v", email, errs[i])
		}
		var want []driver.User
		if i == 0 {
			want = e.want[5:6]
		}
		if d := Diff(lists[i], want); d != "" {
			t.Errorf("UsersByEmail(%q): %s", email, d)
		}
	}
}

func (s *suite) testCompany(t *testing.T) {
	e := s.setup(t, Dataset(5), &TestCompany)
	c, err := e.src.Company(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.NoCompany {
		if c != nil {
			t.Errorf("Company() = %+v, want nil: the vendor names none", c)
		}
		return
	}
	if c == nil || *c != TestCompany {
		t.Errorf("Company() = %+v, want %+v: the vendor names its company", c, TestCompany)
	}
	page, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))})
	if err != nil {
		t.Fatal(err)
	}
	if page.Company == nil || *page.Company != TestCompany {
		t.Errorf("ListUsers: Company = %+v, want %+v", page.Company, TestCompany)
	}
}

func (s *suite) testTotals(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	if total, err := e.src.Total(t.Context(), driver.Filter{}); err != nil || total != 53 {
		t.Errorf("Total = %d, %v; want 53", total, err)
	}
	if !e.desc.Totals {
		return
	}
	for _, limit := range []int{0, 1} {
		page, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 53 {
			t.Errorf("ListUsers(limit %d).Total = %d, want 53", limit, page.Total)
		}
	}
	inactive := driver.Filter{}.With(driver.FieldActive, "false").Only(e.desc.Filters)
	if inactive.IsZero() {
		return
	}
	page, err := e.p.ListUsers(t.Context(), driver.ListRequest{Filter: inactive, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(e.expect(inactive)); page.Total != want {
		t.Errorf("ListUsers(inactive).Total = %d, want %d", page.Total, want)
	}
}

func (s *suite) testPageSize(t *testing.T) {
	e := s.setup(t, Dataset(53), &TestCompany)
	if e.desc.Paging == driver.PagingSnapshot {
		t.Skip("a snapshot vendor decides its page size")
	}
	for _, limit := range []int{1, 3, min(e.desc.MaxPageSize, 20)} {
		page, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Users) != limit {
			t.Errorf("ListUsers(limit %d) = %d users: the adapter must ask the vendor for the page size asked of it", limit, len(page.Users))
		}
	}
	if e.desc.Paging == driver.PagingOffset {
		page, err := e.p.ListUsers(t.Context(), driver.ListRequest{Offset: 50, Limit: min(10, e.desc.MaxPageSize)})
		if err != nil {
			t.Fatal(err)
		}
		if d := Diff(page.Users, e.want[50:min(53, 50+e.desc.MaxPageSize)]); d != "" {
			t.Errorf("ListUsers(offset 50, limit 10): %s", d)
		}
	}
}

// secretFree checks that err shows none of the harness's secrets however
// it is printed.
func secretFree(t *testing.T, h Harness, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, sec := range h.Secrets() {
			if sec != "" && strings.Contains(text, sec) {
				t.Errorf("%s: the error shows a secret: %s", what, text)
				return
			}
		}
	}
}

func (s *suite) testFaults(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault Fault
		check func(err error) string
	}{
		{"unavailable", Fault{Kind: FaultUnavailable, RetryAfter: 7}, func(err error) string {
			var te *driver.TemporaryError
			switch {
			case !errors.As(err, &te) || !errors.Is(err, driver.ErrUnavailable):
				return "want a *driver.TemporaryError: a 503 is worth retrying"
			case !s.opts.NoRetryAfter && te.RetryAfter != 7*time.Second:
				return fmt.Sprintf("RetryAfter %v, want the vendor's 7s", te.RetryAfter)
			}
			return ""
		}},
		{"server error", Fault{Kind: FaultServerError}, func(err error) string {
			var te *driver.TemporaryError
			if !errors.Is(err, driver.ErrUnavailable) || errors.As(err, &te) {
				return "want a final driver.ErrUnavailable: a 500 is not worth retrying soon"
			}
			return ""
		}},
		{"rate limited", Fault{Kind: FaultRateLimited, RetryAfter: 7}, func(err error) string {
			var rl *driver.RateLimitError
			switch {
			case !errors.As(err, &rl):
				return "want a *driver.RateLimitError"
			case !s.opts.NoRetryAfter && rl.RetryAfter != 7*time.Second:
				return fmt.Sprintf("RetryAfter %v, want the vendor's 7s", rl.RetryAfter)
			}
			return ""
		}},
		{"auth", Fault{Kind: FaultAuth}, func(err error) string {
			if !errors.Is(err, driver.ErrAuth) {
				return "want driver.ErrAuth"
			}
			return ""
		}},
		{"bad response", Fault{Kind: FaultBadResponse}, func(err error) string {
			if !errors.Is(err, driver.ErrBadResponse) {
				return "want driver.ErrBadResponse"
			}
			return ""
		}},
		{"disconnect", Fault{Kind: FaultDisconnect}, func(err error) string {
			var te *driver.TemporaryError
			if !errors.As(err, &te) {
				return "want a *driver.TemporaryError: a dropped connection is worth retrying"
			}
			return ""
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := s.setup(t, Dataset(5), &TestCompany)
			if _, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))}); err != nil {
				t.Fatalf("before the fault: %v", err) // logs in
			}
			if !e.h.Fault(tt.fault) {
				t.Skip("the vendor cannot fail this way")
			}
			_, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))})
			if err == nil {
				t.Fatal("no error")
			}
			if why := tt.check(err); why != "" {
				t.Errorf("%v: %s", err, why)
			}
			secretFree(t, e.h, tt.name, err)
			_, serr := e.src.List(t.Context(), driver.Filter{}, providers.Position{}, 5)
			secretFree(t, e.h, tt.name+" through the portable layer", serr)
			var pe *providers.Error
			if errors.As(serr, &pe) {
				secretFree(t, e.h, tt.name+" cause", pe.Err)
			}
		})
	}
}

func (s *suite) testRetries(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault Fault
		// want is the vendor requests one Total makes; on a dropped
		// connection Go's HTTP client may send a request a second time.
		want, most int
		code       errcode.Code
	}{
		{"503 is retried", Fault{Kind: FaultUnavailable}, sourceOptions.MaxAttempts, sourceOptions.MaxAttempts, errcode.ProviderUnavailable},
		{"a dropped connection is retried", Fault{Kind: FaultDisconnect}, sourceOptions.MaxAttempts, 2 * sourceOptions.MaxAttempts, errcode.ProviderUnavailable},
		{"500 is final", Fault{Kind: FaultServerError}, 1, 1, errcode.ProviderUnavailable},
		{"a bad response is final", Fault{Kind: FaultBadResponse}, 1, 1, errcode.ProviderBadResponse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := s.setup(t, Dataset(5), &TestCompany)
			if _, err := e.src.Total(t.Context(), driver.Filter{}); err != nil {
				t.Fatal(err) // logs in, fills a whole-directory copy
			}
			if !e.h.Fault(tt.fault) {
				t.Skip("the vendor cannot fail this way")
			}
			before := e.h.Requests()
			_, err := e.src.Total(t.Context(), driver.Filter{})
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Errorf("err = %v, want %s", err, tt.code)
			}
			if n := e.h.Requests() - before; n < tt.want || n > tt.most {
				t.Errorf("%d vendor requests, want %d", n, tt.want)
			}
		})
	}
}

func (s *suite) testCancellation(t *testing.T) {
	e := s.setup(t, Dataset(5), &TestCompany)
	if _, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))}); err != nil {
		t.Fatal(err)
	}
	if !e.h.Fault(Fault{Kind: FaultHang}) {
		t.Skip("the vendor cannot hang")
	}
	before := e.h.Requests()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.p.ListUsers(ctx, driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))})
		done <- err
	}()
	liveness := s.opts.Liveness
	deadline := time.Now().Add(liveness)
	for e.h.Requests() == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, driver.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want driver.ErrUnavailable wrapping context.Canceled", err)
		}
	case <-time.After(liveness):
		t.Errorf("ListUsers did not return within %v of its context's cancellation: it must honour ctx", liveness)
		e.h.Close() // let the vendor go, so the call ends
		<-done
	}
}

func (s *suite) testConcurrency(t *testing.T) {
	e := s.setup(t, Dataset(40), &TestCompany)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 16 {
		wg.Go(func() {
			n := 3 + g%5
			pos := providers.Position{}
			var got []driver.User
			for range 40 {
				run, err := e.src.List(t.Context(), driver.Filter{}, pos, n)
				if err != nil {
					errs <- err.Error()
					return
				}
				got = append(got, run.Users...)
				if !run.More {
					break
				}
				pos = run.Next
			}
			if d := Diff(got, e.want); d != "" {
				errs <- fmt.Sprintf("goroutine %d: %s", g, d)
			}
			if _, err := e.p.ListUsers(t.Context(), driver.ListRequest{Limit: min(5, max(e.desc.MaxPageSize, 1))}); err != nil {
				errs <- err.Error()
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

// testDirectoryChanges walks while users are deleted before the walk's
// place and inserted there, forwards and backwards: every user present
// during the whole walk comes exactly once, or the walk stops with
// DIRECTORY_CHANGED; never a silent duplicate or skip.
func (s *suite) testDirectoryChanges(t *testing.T) {
	for _, tt := range []struct {
		name     string
		change   func(users []driver.User, at int) []driver.User // at: the walk's place in users
		mustFail bool
	}{
		{"deleted before", func(u []driver.User, at int) []driver.User { return slices.Delete(slices.Clone(u), at-9, at-4) }, false},
		{"inserted before", func(u []driver.User, at int) []driver.User {
			return slices.Insert(slices.Clone(u), at-6, newUsers(5)...)
		}, false},
		{"deleted and inserted before", func(u []driver.User, at int) []driver.User {
			return slices.Insert(slices.Delete(slices.Clone(u), at-12, at-7), 2, newUsers(3)...)
		}, false},
		{"the last user before deleted", func(u []driver.User, at int) []driver.User { return slices.Delete(slices.Clone(u), at-1, at) }, false},
		{"every anchor deleted", func(u []driver.User, at int) []driver.User {
			return slices.Delete(slices.Clone(u), at-providers.Anchors, at)
		}, true},
	} {
		for _, backward := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/backward=%t", tt.name, backward), func(t *testing.T) {
				s.changeWalk(t, tt.change, tt.mustFail, backward)
			})
		}
	}
}

func newUsers(n int) []driver.User {
	out := Dataset(n)
	for i := range out {
		out[i].ID = fmt.Sprintf("NEW-%d-%s", i, out[i].ID)
		out[i].Email = "new." + out[i].Email
		out[i].Emails = []string{out[i].Email}
		out[i].EmployeeID = "N" + out[i].EmployeeID
		out[i].LoginID = "new." + out[i].LoginID
	}
	return out
}

func (s *suite) changeWalk(t *testing.T, change func([]driver.User, int) []driver.User, mustFail, backward bool) {
	users := Dataset(60)
	e := s.setup(t, users, &TestCompany)
	dir, err := providers.NewDirectory(e.src)
	if err != nil {
		t.Fatal(err)
	}
	const size = 7
	seen := map[string]int{}
	var cut *providers.Cut
	current := users
	changed := false
	for pages := 0; ; pages++ {
		if pages > 40 {
			t.Fatal("no end")
		}
		if pages == 3 {
			// The walk's place, in directory order: after 3 pages
			// forwards, before the last 3 pages backwards. Changes before
			// it shift every offset after them.
			at := 3 * size
			if backward {
				at = len(users) - 3*size
			}
			current = change(current, at)
			e.h.SetUsers(current)
		}
		req := providers.PageRequest{Count: size, Backward: backward}
		if backward {
			req.Before = cut
		} else {
			req.After = cut
		}
		p, err := dir.Page(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, edge := range p.Edges {
			seen[edge.User.ID]++
		}
		if len(p.Failed) > 0 {
			if p.Failed[0].Code != errcode.DirectoryChanged {
				t.Fatalf("page %d: %v, want DIRECTORY_CHANGED or users", pages, p.Failed[0])
			}
			changed = true
			break
		}
		more := p.HasNextPage
		if backward {
			more = p.HasPreviousPage
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
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s came %d times", id, n)
		}
	}
	if mustFail && !changed {
		t.Errorf("every anchor of the walk's place was deleted, and the walk went on without DIRECTORY_CHANGED")
	}
	if changed {
		return
	}
	for _, u := range users {
		if slices.ContainsFunc(current, func(c driver.User) bool { return c.ID == u.ID }) && seen[u.ID] != 1 {
			t.Errorf("%s, present during the whole walk, came %d times", u.ID, seen[u.ID])
		}
	}
}
