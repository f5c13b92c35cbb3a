// Package driver is the contract between dirgate and a directory vendor's
// adapter, in the manner of database/sql/driver and go-cloud's blob/driver:
// everything an adapter needs and nothing else.
//
// An adapter implements Provider: it describes its vendor once (how it
// pages, how large a page it takes, which fields it holds and which it can
// filter on) and answers ListUsers with exactly one vendor request. The
// portable layer above it (package providers) does what is the same for
// every vendor: planning the requests of a page, running them within the
// provider's concurrency cap, retrying each on its own, short pages,
// vendors that ignore the page size, filters the vendor cannot apply,
// caching whole directories, lookups, cursors that survive a directory
// that changes mid-walk, and the classification of errors into the codes
// clients see.
//
// Adapters import this package and providers/vendorhttp, never the portable
// layer. They do not retry, cache, page, filter locally or log.
package driver

import (
	"context"
	"time"
)

// Provider is what a vendor adapter implements. It must be safe for
// concurrent use, and its constructor must do no I/O.
type Provider interface {
	// Describe is called once, when the provider is put behind the
	// portable layer. It does no I/O.
	Describe() Description

	// ListUsers makes ONE request to the vendor and returns what it
	// answered, in the vendor's own, stable order. It never plans paging,
	// never retries, never caches and never filters locally.
	//
	// For PagingOffset it returns up to req.Limit users matching
	// req.Filter from req.Offset on, and Total. For PagingCursor and
	// PagingSnapshot it returns the users of the answer that req.Cursor
	// names ("" is the first), and the NextCursor that continues after
	// them ("" after the last answer). A NextCursor may be asked for more
	// than once: the portable layer re-reads an answer to check where a
	// walk stands. A Limit of 0 asks only for Total (and Company).
	//
	// Errors wrap exactly one of ErrUnavailable, ErrRateLimited, ErrAuth
	// or ErrBadResponse with %w. A failure worth retrying soon (the vendor
	// unreachable, the connection dropped, HTTP 502, 503 or 504) is a
	// *TemporaryError; a rate limit is a *RateLimitError; a vendor that
	// refused the page size is a *PageSizeError. The error's text must
	// hold no secret and no vendor body: the portable layer logs it.
	// When ctx ends, ListUsers returns promptly.
	ListUsers(ctx context.Context, req ListRequest) (*ListPage, error)
}

// Paging is how a vendor pages through its users.
type Paging int

const (
	// PagingOffset: offset and limit, with a total in each answer (Concur
	// Users Bulk v3.1, SCIM index paging).
	PagingOffset Paging = iota + 1
	// PagingCursor: opaque forward cursors, the total optional (Concur
	// Identity v4.1, SCIM cursors).
	PagingCursor
	// PagingSnapshot: the whole directory, read in one or more chained
	// answers, which the portable layer caches (getbill, file).
	PagingSnapshot
)

// String returns the style's name: offset, cursor or snapshot.
func (p Paging) String() string {
	switch p {
	case PagingOffset:
		return "offset"
	case PagingCursor:
		return "cursor"
	case PagingSnapshot:
		return "snapshot"
	}
	return "unknown"
}

// Description is what an adapter tells the portable layer about its
// vendor.
type Description struct {
	Paging Paging
	// MaxPageSize is the most users one request may ask for; 0 for a
	// snapshot vendor, which decides itself.
	MaxPageSize int
	// PageSize is the number of users asked for per request (configured);
	// 0 means MaxPageSize.
	PageSize int
	// Totals is true when answers carry the number of users matching the
	// filter. PagingOffset requires it.
	Totals bool
	// Fields are the User fields the vendor holds; the others are always
	// empty. Zero means AllFields.
	Fields FieldSet
	// Filters are the fields the vendor filters on itself, a subset of
	// Fields and of Filterable. The portable layer pushes those down and
	// applies the rest itself while paging (partial pushdown). A snapshot
	// vendor filters on nothing.
	Filters FieldSet
}

// ListRequest asks a Provider for one vendor request's worth of users.
type ListRequest struct {
	// Filter holds only fields of Description.Filters.
	Filter Filter
	// Offset is, for PagingOffset, the number of matching users to skip.
	Offset int
	// Cursor is, for PagingCursor and PagingSnapshot, the NextCursor of a
	// previous answer; "" asks for the first.
	Cursor string
	// Limit is 1..MaxPageSize users; 0 asks only for the total (and the
	// company). A snapshot vendor may ignore it.
	Limit int
}

// ListPage is one vendor answer.
type ListPage struct {
	Users []User
	// Total is the number of users matching the filter; -1 when the
	// vendor did not say.
	Total int
	// NextCursor continues after Users (PagingCursor, PagingSnapshot); ""
	// on the last answer.
	NextCursor string
	// Company is the directory's company, when the vendor names it.
	Company *Company
}

// User is a person's account in one directory. Empty strings and zero
// times mean the vendor did not say.
type User struct {
	ID               string // the vendor's own id; never empty
	Email            string // the primary email
	Emails           []string
	FirstName        string
	MiddleName       string
	LastName         string
	Active           bool
	LoginID          string
	EmployeeID       string
	CellPhone        string
	OrganizationUnit string
	CountryCode      string
	CreatedAt        time.Time
	LastActivityAt   time.Time
}

// Company is the company a directory belongs to.
type Company struct {
	Name, Address, City, State, Zip, Country string
}

// RateBudgeter is implemented by a Provider that knows its vendor's rate
// budget, for example from X-RateLimit-* headers. The portable layer
// finds it by type assertion, refreshes a cached directory less often when
// the budget runs low, and reports it.
type RateBudgeter interface {
	// RateLimit returns what the vendor last said: the calls allowed per
	// window, the calls remaining, and when the window resets. ok is false
	// until the vendor has said.
	RateLimit() (limit, remaining int, reset time.Time, ok bool)
}

// Discoverer is implemented by a Provider that learns how to reach its
// vendor by asking it: a SCIM provider with paging auto reads the server's
// /ServiceProviderConfig before its first request. The portable layer
// finds it by type assertion and shows what was found in the provider's
// status.
type Discoverer interface {
	// Discovered returns what the vendor said and what the provider chose;
	// ok is false until the vendor has said.
	Discovered() (d Discovery, ok bool)
}

// Discovery is what a Discoverer learnt from its vendor.
type Discovery struct {
	// Paging is how the provider pages on the wire: "index" or "cursor".
	Paging string
	// Offered is what the vendor offered, in a few words, for people.
	Offered string
	// At is when the vendor said it.
	At time.Time
}
