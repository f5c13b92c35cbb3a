// Package providers defines the contract between dirgate and a user
// directory (a vendor adapter), and the portable layer above it.
//
// The contract is small, in the manner of database/sql/driver: an adapter
// implements Provider (one method that lists users, plus a description of
// what the vendor can do). Everything that is the same for every vendor
// lives once, in this package: timeouts, caching of whole-directory vendors,
// filters the vendor cannot apply, error classification, and the merged,
// paged view over several providers (Directory).
//
// Adapters do not retry, cache or log; they map the vendor's wire format onto
// User and return errors that wrap the sentinels below.
package providers

import (
	"context"
	"time"
)

// Provider is the contract a vendor adapter implements.
//
// Implementations must be safe for concurrent use and must not do network
// I/O in their constructors.
type Provider interface {
	// Describe tells the portable layer how the vendor pages and which
	// fields and filters it has. It is called once, when the provider is
	// added to a Directory, and must not do I/O.
	Describe() Description

	// ListUsers returns users in the vendor's own, stable order.
	//
	// For PagingOffset and PagingCursor, it returns up to req.Limit users that
	// match req.Filter, starting at req.Start. It returns fewer than
	// req.Limit only when the directory ends there, however many vendor
	// calls that takes (never assume the vendor honoured a page size). Total
	// is the number of users matching the filter.
	//
	// For PagingSnapshot, req is always the zero ListRequest: it returns
	// every user of the directory, and the portable layer filters, pages and
	// caches.
	//
	// Errors wrap one of the sentinel errors of this package (ErrUnavailable,
	// ErrRateLimited, ErrAuth, ErrBadResponse) so the portable layer can
	// classify them; a *RateLimitError carries the vendor's retry-after. A
	// failure worth retrying soon (the vendor unreachable, one HTTP call
	// timed out, HTTP 502, 503 or 504) is a *TemporaryError: the portable
	// layer retries those and rate limits, and nothing else (see retry.go).
	// When a call fails after some users were fetched, ListUsers may return
	// a page of those users (the first ones, with Next after them) together
	// with the error: the portable layer keeps them and asks again from
	// Next, rather than fetching them twice.
	ListUsers(ctx context.Context, req ListRequest) (*ListPage, error)
}

// Paging is the way a vendor's API pages through its users.
type Paging int

const (
	// PagingOffset: offset and limit, with a total (Concur Users Bulk v3.1).
	PagingOffset Paging = iota
	// PagingSnapshot: the whole directory in one answer (getbill).
	PagingSnapshot
	// PagingCursor: opaque, forward-only vendor cursors, with a total
	// (Concur Identity v4.1). The portable layer keeps the offset beside the
	// vendor cursor, so positions stay comparable across styles.
	PagingCursor
)

func (p Paging) String() string {
	switch p {
	case PagingOffset:
		return "offset"
	case PagingSnapshot:
		return "snapshot"
	case PagingCursor:
		return "cursor"
	}
	return "unknown"
}

// Field names a User field that a vendor may or may not have, or may or may
// not be able to filter on.
type Field uint16

// The fields of User that vary by vendor.
const (
	FieldEmail Field = 1 << iota
	FieldActive
	FieldLoginID
	FieldLastName
	FieldEmployeeID
	FieldCountryCode
	FieldID // the native id, as a filter
)

// Has reports whether every field of g is in f.
func (f Field) Has(g Field) bool { return f&g == g }

// Description is what a provider tells the portable layer about its vendor.
type Description struct {
	// Paging is the vendor's paging style.
	Paging Paging
	// Filters are the filter fields the vendor applies itself (pushed
	// down). For PagingSnapshot it is ignored: dirgate filters. For paged
	// vendors a filter on any other field matches none of their users.
	Filters Field
	// PageSize is how many users the adapter asks the vendor for in one
	// request (paged vendors); 0 when one request answers any page.
	PageSize int
}

// Position is where a walk through one provider's users stands: the number
// of users (matching the filter) before it, and, for PagingCursor vendors,
// the vendor's opaque cursor that continues from there.
type Position struct {
	Offset int
	// Token is the vendor cursor for Offset; empty means "from the start"
	// when Offset is 0, and "unknown" otherwise.
	Token string
}

// ListRequest asks a Provider for one run of users.
type ListRequest struct {
	Filter Filter
	Start  Position
	Limit  int
}

// ListPage is one run of users, in the vendor's order.
type ListPage struct {
	Users []User
	// Next is the position after the last user returned.
	Next Position
	// Total is the number of users that match the filter, or -1 if the
	// vendor did not say.
	Total int
	// Company is the company the directory belongs to, when the vendor
	// returns it (Concur does with every page).
	Company *Company
}

// Filter restricts a listing. Nil fields do not filter. String values are
// matched against the whole field value, ignoring letter case and
// surrounding white space; the constructor of a Filter need not normalise
// them, the portable layer does.
type Filter struct {
	Active      *bool
	Email       *string // the primary email
	LoginID     *string
	LastName    *string
	EmployeeID  *string
	CountryCode *string
	ID          *string // the native id
}

// Fields returns the set of fields f filters on.
func (f Filter) Fields() Field {
	var s Field
	for _, c := range []struct {
		set bool
		f   Field
	}{
		{f.Active != nil, FieldActive},
		{f.Email != nil, FieldEmail},
		{f.LoginID != nil, FieldLoginID},
		{f.LastName != nil, FieldLastName},
		{f.EmployeeID != nil, FieldEmployeeID},
		{f.CountryCode != nil, FieldCountryCode},
		{f.ID != nil, FieldID},
	} {
		if c.set {
			s |= c.f
		}
	}
	return s
}

// User is a person's account in one directory. Empty strings and zero times
// mean the vendor did not say.
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
