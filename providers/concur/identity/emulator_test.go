package identity

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/scim"
)

const (
	clientID     = "identity-client"
	clientSecret = "identity-client-secret"
	companyUUID  = "aa076ada-80a9-4f57-8e98-9300b1c3171d"
	requestToken = "identity-request-token"
)

type reply struct {
	status int
	header http.Header
	body   []byte
	obj    map[string]any
}

func do(t *testing.T, srv *httptest.Server, method, path, token string, body any) *reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := &reply{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	json.Unmarshal(a.body, &a.obj)
	return a
}

// companyToken logs in as the company, with the request token.
func companyToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	form := url.Values{
		"client_id": {clientID}, "client_secret": {clientSecret}, "grant_type": {"password"},
		"username": {companyUUID}, "password": {requestToken}, "credtype": {"authtoken"},
	}
	resp, err := srv.Client().Post(srv.URL+"/oauth2/v0/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.AccessToken == "" {
		t.Fatalf("token: HTTP %d, %v", resp.StatusCode, err)
	}
	return v.AccessToken
}

func start(t *testing.T, users []driver.User) (*Emulator, *concur.Emulator, *httptest.Server) {
	t.Helper()
	ce := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: clientID, ClientSecret: clientSecret, CompanyUUID: companyUUID, RequestToken: requestToken,
		Users: users,
	})
	ie := NewEmulator(EmulatorOptions{Concur: ce, CompanyUUID: companyUUID, CompanyName: "Acme", Users: (users)})
	srv := httptest.NewServer(ie)
	t.Cleanup(srv.Close)
	return ie, ce, srv
}

func asIdentity(users []driver.User) []driver.User {
	out := make([]driver.User, len(users))
	for i, u := range users {
		u.LastActivityAt = time.Time{}
		out[i] = u
	}
	return out
}

func TestEmulatorWalks(t *testing.T) {
	users := providertest.Dataset(27)
	_, _, srv := start(t, users)
	tok := companyToken(t, srv)
	for _, search := range []bool{false, true} {
		var got []driver.User
		cursor := ""
		for page := 0; ; page++ {
			var a *reply
			if search {
				body := map[string]any{"schemas": []string{scim.ConcurSearchRequestSchema}, "count": 10}
				if cursor != "" {
					body["cursor"] = cursor
				}
				a = do(t, srv, "POST", Base+"/Users/.search", tok, body)
			} else {
				a = do(t, srv, "GET", Base+"/Users?count=10&cursor="+url.QueryEscape(cursor), tok, nil)
			}
			if a.status != 200 || a.obj["totalResults"] != 27.0 || a.header.Get("concur-correlationid") == "" {
				t.Fatalf("page %d: HTTP %d %v %.300s", page, a.status, a.header, a.body)
			}
			p, err := scim.DefaultMapping().DecodeList(a.body)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, (p.Users)...)
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if d := providertest.Diff(got, asIdentity(users)); d != "" {
			t.Errorf("search %v: %s", search, d)
		}
	}
	// The Concur extensions are there.
	a := do(t, srv, "GET", Base+"/Users?count=1", tok, nil)
	res := a.obj["Resources"].([]any)[0].(map[string]any)
	ent := res[scim.EnterpriseUserSchema].(map[string]any)
	if ent["companyId"] != companyUUID || res[scim.SAPUserSchema] == nil || a.obj["startIndex"] != 1.0 {
		t.Errorf("a Concur identity: %.400s", a.body)
	}
}

func TestEmulatorRefusals(t *testing.T) {
	users := providertest.Dataset(5)
	ie, ce, srv := start(t, users)
	tok := companyToken(t, srv)
	for _, tt := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		scimType                  string
	}{
		{"no token", "GET", Base + "/Users", "", nil, 401, ""},
		{"a forged token", "GET", Base + "/Users", "forged", nil, 401, ""},
		{"startIndex", "GET", Base + "/Users?startIndex=2", tok, nil, 400, "invalidValue"},
		{"a filter on GET", "GET", Base + "/Users?filter=" + url.QueryEscape(`active eq true`), tok, nil, 400, "invalidFilter"},
		{"the RFC's SearchRequest", "POST", Base + "/Users/.search", tok, map[string]any{"schemas": []string{scim.SearchRequestSchema}}, 400, "invalidSyntax"},
		{"or", "POST", Base + "/Users/.search", tok, map[string]any{"schemas": []string{scim.ConcurSearchRequestSchema}, "filter": `active eq true or active eq false`}, 400, "invalidFilter"},
		{"a forged cursor", "GET", Base + "/Users?cursor=abc", tok, nil, 400, "invalidCursor"},
	} {
		a := do(t, srv, tt.method, tt.path, tt.token, tt.body)
		if a.status != tt.status || a.obj["status"] != strconv.Itoa(tt.status) || (tt.scimType != "" && a.obj["scimType"] != tt.scimType) {
			t.Errorf("%s: HTTP %d %s, want %d %s", tt.name, a.status, a.body, tt.status, tt.scimType)
		}
	}
	// A filter in .search, on the attributes dirgate pushes down.
	u := users[1]
	f, err := scim.Build(
		scim.Term{Path: "userName", Value: strings.ToUpper(u.LoginID)},
		scim.Term{Path: "emails.value", Value: u.Email},
		scim.Term{Path: "name.familyName", Value: u.LastName},
		scim.Term{Path: scim.EnterpriseUserSchema + ":employeeNumber", Value: u.EmployeeID},
		scim.Term{Path: "id", Value: strings.ToLower(u.ID)},
		scim.Term{Path: "active", Value: "true", Bool: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	a := do(t, srv, "POST", Base+"/Users/.search", tok, map[string]any{"schemas": []string{scim.ConcurSearchRequestSchema}, "filter": f})
	if a.status != 200 || a.obj["totalResults"] != 1.0 {
		t.Errorf("search %s: HTTP %d %.300s", f, a.status, a.body)
	}
	// count is capped at 1000, silently.
	ie.SetUsers((providertest.Dataset(1200)))
	if a := do(t, srv, "GET", Base+"/Users?count=5000", tok, nil); a.status != 200 || a.obj["itemsPerPage"] != 1000.0 || a.obj["nextCursor"] == nil {
		t.Errorf("count 5000: HTTP %d, itemsPerPage %v", a.status, a.obj["itemsPerPage"])
	}
	// Users Bulk v3.1 is served beside it, with the same company token.
	if a := do(t, srv, "GET", "/users/?limit=2", tok, nil); a.status != 200 || a.obj["total"] != 5.0 {
		t.Errorf("Users Bulk v3.1 beside Identity: HTTP %d %.200s", a.status, a.body)
	}
	// An expired company token is refused by both.
	ce.ExpireAccessTokens()
	if a := do(t, srv, "GET", Base+"/Users", tok, nil); a.status != 401 || a.obj["schemas"] == nil {
		t.Errorf("an expired token: HTTP %d %s", a.status, a.body)
	}
	// Concur's own 429, with retry-after: 0.
	tok = companyToken(t, srv)
	ie.SetFault(scim.Fault{Status: 429, RetryAfter: "0", Body: RateLimitBody})
	if a := do(t, srv, "GET", Base+"/Users", tok, nil); a.status != 429 || a.header.Get("Retry-After") != "0" {
		t.Errorf("429: HTTP %d %v", a.status, a.header)
	}
}
