package identity

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/scim"
)

// Base is the path of Identity v4.1 on a Concur data center.
const Base = "/profile/identity/v4.1"

// Paging limits of Identity v4.1: count defaults to 100 and goes up to
// 1000.
const (
	DefaultCount = 100
	MaxCount     = 1000
)

// EmulatorOptions configure an Emulator.
type EmulatorOptions struct {
	// Concur is the emulator of Concur's token service (and Users Bulk
	// v3.1): Identity v4.1 accepts its company access tokens, and every
	// path outside Base goes to it. Required.
	Concur *concur.Emulator
	// CompanyUUID and CompanyName fill the enterprise extension's
	// companyId and organization.
	CompanyUUID, CompanyName string
	// Users is the company's directory, in the order Identity lists it.
	Users []scim.User
	// Quirks are switches for departures from the documented wire format.
	Quirks scim.Quirks
	// CursorTTL, when set, expires cursors after it (400 expiredCursor).
	CursorTTL time.Duration
	// Now is the clock of cursors; default time.Now.
	Now func() time.Time
}

// Emulator is an http.Handler that emulates SAP Concur's Identity v4.1
// API, as its documentation describes it (developer.concur.com,
// api-reference/profile/v4.1.identity and api-guides/profile/identity-search):
//
//   - GET /profile/identity/v4.1/Users?count=&cursor= lists the company's
//     users, count defaulting to 100 and at most 1000; startIndex is
//     refused ("not supported due to the behavior of deep pagination"),
//     and so is a filter, which belongs in .search;
//   - POST /profile/identity/v4.1/Users/.search takes a body with the
//     schema urn:ietf:params:scim:api:messages:concur:2.0:SearchRequest,
//     a SCIM filter, count and cursor;
//   - answers are SCIM ListResponses with totalResults, startIndex,
//     itemsPerPage and a nextCursor on every page but the last;
//   - resources carry the enterprise extension (employeeNumber,
//     department, companyId) and SAP's (userUuid);
//   - errors are SCIM error objects, "status" a string;
//   - only company access tokens from the Concur token service are
//     accepted, the same ones Users Bulk v3.1 takes.
//
// The filter language served is eq and and, with value filters, over the
// attributes the docs list as searchable; values compare ignoring letter
// case (the docs do not say; the bulk emulator does the same). It is safe
// for concurrent use.
type Emulator struct {
	*scim.Emulator
	concur *concur.Emulator
}

// NewEmulator returns an emulator serving opts.Users.
func NewEmulator(opts EmulatorOptions) *Emulator {
	if opts.Concur == nil {
		panic("identity: NewEmulator: EmulatorOptions.Concur is required")
	}
	flavor := func(u *scim.User, res map[string]any) {
		res["schemas"] = []any{scim.UserSchema, scim.EnterpriseUserSchema, scim.SAPUserSchema}
		if ent, ok := res[scim.EnterpriseUserSchema].(map[string]any); ok {
			ent["companyId"] = opts.CompanyUUID
			if opts.CompanyName != "" {
				ent["organization"] = opts.CompanyName
			}
			ent["manager"], ent["costCenter"], ent["terminationDate"] = nil, nil, nil
		}
		res[scim.SAPUserSchema] = map[string]any{"userUuid": sapUUID(u.ID)}
		if list, ok := res["emails"].([]any); ok {
			for _, e := range list {
				em := e.(map[string]any)
				em["verified"], em["notifications"] = true, false
			}
		}
		res["timezone"], res["preferredLanguage"] = "America/New_York", "en-US"
		res["title"], res["nickName"], res["dateOfBirth"], res["emergencyContacts"] = nil, nil, nil, nil
		res["localeOverrides"] = map[string]any{"preferenceDistance": "mile", "preferenceFirstDayOfWeek": "Sunday"}
		if meta, ok := res["meta"].(map[string]any); ok {
			meta["version"] = 1
		}
	}
	return &Emulator{
		concur: opts.Concur,
		Emulator: scim.NewEmulator(scim.EmulatorOptions{
			Users:            opts.Users,
			Base:             Base,
			Authorize:        opts.Concur.Authorize,
			Cursor:           true,
			DefaultPageSize:  DefaultCount,
			MaxPageSize:      MaxCount,
			RejectStartIndex: true,
			CursorTTL:        opts.CursorTTL,
			Search:           true,
			SearchSchema:     scim.ConcurSearchRequestSchema,
			NoGetFilter:      true,
			FilterAttributes: searchable,
			CaseExact:        []string{},
			Flavor:           flavor,
			Quirks:           opts.Quirks,
			Now:              opts.Now,
		}),
	}
}

// searchable are the attributes the Identity v4.1 search guide lists as
// filterable, as the emulator can evaluate them.
var searchable = []string{
	"active", "displayName", "emails", "emails.value", "emails.type", "emails.verified",
	"externalId", "id", "meta.created", "meta.lastModified", "name.familyName", "name.givenName",
	"nickName", "userName", "addresses", "addresses.country",
	scim.EnterpriseUserSchema + ":companyId", scim.EnterpriseUserSchema + ":costCenter",
	scim.EnterpriseUserSchema + ":department", scim.EnterpriseUserSchema + ":division",
	scim.EnterpriseUserSchema + ":employeeNumber",
	scim.SAPUserSchema + ":userUuid",
}

// ServeHTTP serves Identity v4.1 under Base, and hands every other path
// (the token endpoint, Users Bulk v3.1) to the Concur emulator.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == Base || strings.HasPrefix(r.URL.Path, Base+"/") {
		w.Header()["concur-correlationid"] = []string{correlationID(r)}
		e.Emulator.ServeHTTP(w, r)
		return
	}
	e.concur.ServeHTTP(w, r)
}

// RateLimitBody is the 429 body SAP Concur's v4 services send, with a
// "retry-after: 0" header (developer.concur.com, list-item v4): not a
// SCIM error object.
const RateLimitBody = `{"timestamp":"2026-01-01T00:00:00.000Z","httpStatus":"429 - Too Many Requests",` +
	`"error":{"id":"security.rate.limit.reached","message":"Too many requests"},"path":"/profile/identity/v4.1/Users"}`

// sapUUID derives a stable SAP Global ID from a user's id.
func sapUUID(id string) string {
	h := sha256.Sum256([]byte("sap:" + id))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// correlationID is a per-request id, as Concur sends in every answer.
func correlationID(r *http.Request) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%p%d", r, time.Now().UnixNano())))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
