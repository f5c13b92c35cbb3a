// Package companyauth is SAP Concur's company-level authentication,
// shared by the kinds that read a company's users (Users Bulk v3.1 and
// Identity v4.1): the first login exchanges the Company Request Token
// (valid 24 hours) for an access token and a refresh token with the
// password grant (credtype=authtoken), at the Global Landing Zone; from
// then on the refresh grant renews the access token at the geolocation of
// the latest token answer, which is also the base URL of every API call.
// A "user lives elsewhere" answer (code 16) is followed once. The refresh
// token and the geolocation are kept in a token store across restarts;
// the token cache (vendorhttp.TokenCache) runs one renewal at a time, on a
// context detached from its callers'. Replicas that share a
// vendorhttp.SharedTokenStore (Redis) renew through it, one at a time,
// the others taking the token it stored.
package companyauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// DefaultTokenURL is where third-party partners must request company
// tokens since March 2025 (the Global Landing Zone).
const DefaultTokenURL = "https://glz.api.concursolutions.com/oauth2/v0/token"

// TokenPath is the path of Concur's token endpoint, on the Global Landing
// Zone and on every data center.
const TokenPath = "/oauth2/v0/token"

// defaultAccessTTL is assumed when a token answer has no expires_in.
const defaultAccessTTL = time.Hour

// Config is the company's authentication settings: keys every Concur kind
// has, decoded inline with the kind's own.
type Config struct {
	// TokenURL is the token endpoint of the password grant. Refresh grants
	// and API calls go to the geolocation the token service returns.
	TokenURL string `yaml:"tokenURL"`
	// ClientID and ClientSecret are the app's credentials (App
	// Management).
	ClientID     string            `yaml:"clientID"`
	ClientSecret vendorhttp.Secret `yaml:"clientSecret"`
	// CompanyUUID and RequestToken come from the Company Request Token
	// tool or an App Center connection. The request token is valid for 24
	// hours; after the first login the refresh token takes over.
	CompanyUUID  string            `yaml:"companyUUID"`
	RequestToken vendorhttp.Secret `yaml:"requestToken"`
	// TokenStore is a file where the refresh token, its expiry and the
	// geolocation are kept across restarts (JSON, mode 0600). Without it
	// every start needs a valid request token. Give each provider its own:
	// a refresh token Concur rotates for one is refused to the other.
	TokenStore string `yaml:"tokenStore"`
}

// Check applies the defaults and checks cfg; errors name the key and
// never quote a value. A token store must be writable: one that is not
// stops dirgate at start-up, not at the first refresh.
func (cfg *Config) Check() error {
	var errs []error
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("tokenURL must be an absolute http or https URL"))
	}
	for _, f := range []struct{ key, value string }{
		{"clientID", cfg.ClientID}, {"clientSecret", cfg.ClientSecret.Reveal()}, {"companyUUID", cfg.CompanyUUID},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("missing required key %q", f.key))
		}
	}
	if cfg.RequestToken.IsZero() && cfg.TokenStore == "" {
		errs = append(errs, errors.New(`missing required key "requestToken" (or a "tokenStore" that holds a refresh token)`))
	}
	errs = append(errs, cfg.ClientSecret.Check("clientSecret"), cfg.RequestToken.Check("requestToken"))
	if cfg.TokenStore != "" {
		if err := CheckTokenStore(cfg.TokenStore); err != nil {
			errs = append(errs, fmt.Errorf("tokenStore: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Options are an Auth's shared dependencies; nil means the defaults.
type Options struct {
	// HTTP makes every request; nil means a vendorhttp.Client of its own.
	HTTP *vendorhttp.Client
	// Store keeps the refresh token across restarts; nil means a file at
	// Config.TokenStore, or memory when that is empty.
	Store vendorhttp.TokenStore
	// TokenTimeout bounds one token renewal; zero means
	// vendorhttp.DefaultTokenTimeout.
	TokenTimeout time.Duration
}

// Auth holds a company's tokens. It is safe for concurrent use.
type Auth struct {
	cfg    Config
	http   *vendorhttp.Client
	store  vendorhttp.TokenStore
	shared vendorhttp.SharedTokenStore // store, when replicas share it
	tokens *vendorhttp.TokenCache

	mu         sync.Mutex // guards the fields below
	loaded     bool       // the token store has been read
	refresh    vendorhttp.Secret
	refreshExp time.Time // zero: unknown
	geo        string    // base URL for refreshes and API calls
	seen       []byte    // with a shared store: what it last gave this replica
}

// New returns the Auth of cfg, which the caller has checked. It does no
// I/O: the first token is fetched by the first call to Do.
func New(cfg Config, opts *Options) *Auth {
	if opts == nil {
		opts = &Options{}
	}
	a := &Auth{cfg: cfg, http: opts.HTTP, store: opts.Store}
	if a.http == nil {
		a.http = vendorhttp.New(vendorhttp.Options{})
	}
	if a.store == nil {
		if cfg.TokenStore != "" {
			a.store = vendorhttp.FileStore{Path: cfg.TokenStore}
		} else {
			a.store = &vendorhttp.MemoryStore{}
		}
	}
	a.shared, _ = a.store.(vendorhttp.SharedTokenStore)
	a.tokens = vendorhttp.NewTokenCache(a.renew, vendorhttp.TokenOptions{Timeout: opts.TokenTimeout, Now: a.http.Now})
	return a
}

// Do makes one request of the company's API: it sends the request build
// makes for the geolocation (the base URL of the company's APIs) with an
// access token, and hands the answer to read, as vendorhttp.Client.Do
// does (limit bounds its body). When Concur refuses the token (401, or
// the legacy 403), Do drops it, renews it and sends the request again:
// once; twice with a token store the replicas share, whose first renewal
// may hand over another replica's token, which Concur may have revoked
// since. A refusal after that is a driver.ErrAuth; so are Concur's
// refusals of the company's credentials when it renews.
func (a *Auth) Do(ctx context.Context, limit int64, build func(geo string) (*http.Request, error), read func(*vendorhttp.Response) error) error {
	renewals := 1
	if a.shared != nil {
		renewals = 2
	}
	for renewed := 0; ; renewed++ {
		tok, geo, err := a.token(ctx)
		if err != nil {
			return err
		}
		req, err := build(geo)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Reveal())
		refused := false
		err = a.http.Do(ctx, req, limit, func(r *vendorhttp.Response) error {
			switch s := r.Status; {
			case s != http.StatusUnauthorized && s != http.StatusForbidden:
				return read(r)
			case renewed < renewals:
				refused = true
				return nil
			default:
				return fmt.Errorf("%w: HTTP %d with a fresh access token", driver.ErrAuth, s)
			}
		})
		if err != nil || !refused {
			return err
		}
		a.tokens.Invalidate(tok)
	}
}

// token returns an access token that is not about to expire, and the
// geolocation to call the company's APIs at; renewing the token when
// needed.
func (a *Auth) token(ctx context.Context) (vendorhttp.Secret, string, error) {
	tok, err := a.tokens.Token(ctx)
	if err != nil {
		return vendorhttp.Secret{}, "", fmt.Errorf("token: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return tok, a.geo, nil
}

// renew gets a new access token: with the refresh token while it lasts,
// else (or when Concur refuses it) with the request token. With a token
// store that replicas share, through it (see renewShared).
func (a *Auth) renew(ctx context.Context) (vendorhttp.Token, error) {
	if a.shared != nil {
		return a.renewShared(ctx)
	}
	if err := a.load(ctx); err != nil {
		return vendorhttp.Token{}, err
	}
	return a.grants(ctx)
}

// grants makes the token requests of one renewal.
func (a *Auth) grants(ctx context.Context) (vendorhttp.Token, error) {
	a.mu.Lock()
	refresh, refreshExp, geo := a.refresh, a.refreshExp, a.geo
	a.mu.Unlock()

	var refreshErr error
	if !refresh.IsZero() && (refreshExp.IsZero() || a.http.Now().Before(refreshExp)) {
		tokenURL := a.cfg.TokenURL
		if geo != "" {
			tokenURL = geo + TokenPath
		}
		tok, err := a.grant(ctx, tokenURL, url.Values{
			"client_id":     {a.cfg.ClientID},
			"client_secret": {a.cfg.ClientSecret.Reveal()},
			"grant_type":    {"refresh_token"},
			"refresh_token": {refresh.Reveal()},
		})
		var te *tokenError
		if !errors.As(err, &te) || (te.Code != 108 && te.Code != 105) {
			return tok, err // a token, or a failure the request token cannot fix
		}
		refreshErr = err
		a.mu.Lock()
		a.refresh, a.refreshExp = vendorhttp.Secret{}, time.Time{}
		a.mu.Unlock()
	}
	if a.cfg.RequestToken.IsZero() {
		if refreshErr != nil {
			return vendorhttp.Token{}, fmt.Errorf("%w; no requestToken is configured: a new company request token is needed", refreshErr)
		}
		return vendorhttp.Token{}, fmt.Errorf("%w: no usable refresh token and no requestToken: a new company request token is needed", driver.ErrAuth)
	}
	tok, err := a.grant(ctx, a.cfg.TokenURL, url.Values{
		"client_id":     {a.cfg.ClientID},
		"client_secret": {a.cfg.ClientSecret.Reveal()},
		"grant_type":    {"password"},
		"username":      {a.cfg.CompanyUUID},
		"password":      {a.cfg.RequestToken.Reveal()},
		"credtype":      {"authtoken"},
	})
	if err != nil && refreshErr != nil {
		return tok, fmt.Errorf("%w (after the refresh token was refused)", err)
	}
	return tok, err
}

// grant posts one token request, following a "user lives elsewhere"
// answer once, and keeps what comes back.
func (a *Auth) grant(ctx context.Context, tokenURL string, form url.Values) (vendorhttp.Token, error) {
	kind := form.Get("grant_type")
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return vendorhttp.Token{}, fmt.Errorf("%w: an unusable token URL", driver.ErrBadResponse)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		var tok vendorhttp.Token
		var elsewhere string
		err = a.http.Do(ctx, req, a.http.Limit(1), func(r *vendorhttp.Response) error {
			s := r.Status
			switch {
			case s == http.StatusOK:
				var kerr error
				tok, kerr = a.keep(ctx, r.Body, tokenURL)
				return kerr
			case s == http.StatusTooManyRequests || vendorhttp.Temporary(s):
				return vendorhttp.StatusError(s, r.Header, a.http.Now())
			case s >= 500:
				return fmt.Errorf("%w: HTTP %d", driver.ErrUnavailable, s)
			}
			te := &tokenError{Grant: kind, Status: s}
			var v struct {
				Error       vendorhttp.String `json:"error"`
				Code        vendorhttp.Int    `json:"code"`
				Geolocation vendorhttp.String `json:"geolocation"`
			}
			if json.Unmarshal(r.Body, &v) == nil {
				te.Code = int(v.Code.N)
				if oauthErrors[string(v.Error)] {
					te.Err = string(v.Error)
				}
			}
			switch {
			case te.Code == 16 && v.Geolocation != "" && hop == 0:
				elsewhere = string(v.Geolocation)
				return nil
			case te.Code == 134: // company undergoing scheduled maintenance
				return fmt.Errorf("%w: the company is undergoing scheduled maintenance (code 134)", driver.ErrUnavailable)
			case te.Code == 0 && s != http.StatusBadRequest && s != http.StatusUnauthorized && s != http.StatusForbidden:
				// Not an OAuth2 refusal: a wrong URL, a redirect, a proxy.
				return fmt.Errorf("%w: unexpected HTTP %d", driver.ErrUnavailable, s)
			}
			return te
		})
		if err != nil {
			return vendorhttp.Token{}, err
		}
		if elsewhere == "" {
			return tok, nil
		}
		geo, ok := vendorhttp.BaseURL(elsewhere)
		if !ok {
			return vendorhttp.Token{}, fmt.Errorf("%w: user lives elsewhere, at an unusable geolocation", driver.ErrBadResponse)
		}
		tokenURL = geo + TokenPath
	}
}

// oauthErrors are the error values of Concur's token endpoint: the only
// vendor text an error carries.
var oauthErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "access_denied": true, "invalid_scope": true,
}

// tokenError is a refusal from the token endpoint. It is a driver.ErrAuth.
type tokenError struct {
	Grant  string // password or refresh_token
	Status int
	Code   int    // 0: no code
	Err    string // the OAuth2 error, one of oauthErrors
}

func (e *tokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s grant refused: HTTP %d", e.Grant, e.Status)
	if e.Err != "" {
		b.WriteString(" " + e.Err)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if advice := tokenAdvice[e.Code]; advice != "" {
		b.WriteString(": " + advice)
	}
	return b.String()
}

func (e *tokenError) Unwrap() error { return driver.ErrAuth }

// Advice for the documented token-endpoint error codes, for the operator
// who reads the log. Where a person must act, it says who and what.
const (
	adviceNewRequestToken = "a new company request token is needed"
	adviceBug             = "dirgate sent a request Concur does not accept; please report it"
	adviceSupport         = "contact SAP Concur support"
	adviceRefused         = "the company request token or companyUUID was refused (a request token is valid for 24 hours): " + adviceNewRequestToken
)

var tokenAdvice = map[int]string{
	5: adviceRefused, 19: adviceRefused,
	136: "the company request token was made for another app: " + adviceNewRequestToken + ", made for this clientID",
	10:  "the account is disabled: " + adviceSupport, 11: "the account is disabled: " + adviceSupport,
	12: "logon denied: " + adviceSupport, 13: "logon denied: " + adviceSupport,
	14:  "the account is locked: " + adviceSupport,
	16:  "the company lives in another data center, and its geolocation could not be followed",
	20:  "logon denied, typically by an IP restriction: a Concur administrator must allow dirgate's address",
	53:  "the company has not enabled this app: a Concur administrator must connect it, and " + adviceNewRequestToken,
	54:  "the requested scope exceeds the app's scopes: check the app in App Management",
	59:  "the app is disabled: check it in App Management",
	61:  "Concur does not know this clientID: check clientID",
	64:  "clientSecret does not match clientID: check clientSecret",
	105: "the refresh token was issued to another app",
	107: "refresh is disabled for this app: check it in App Management",
	108: "the refresh token is bad, expired or revoked",
	123: "the company's principal is disabled: " + adviceSupport,
	51:  adviceBug, 52: adviceBug, 60: adviceBug, 62: adviceBug, 63: adviceBug,
	65: adviceBug, 106: adviceBug, 120: adviceBug, 135: adviceBug,
}

// tokenAnswer is a successful token answer.
type tokenAnswer struct {
	AccessToken      string            `json:"access_token"`
	ExpiresIn        vendorhttp.Int    `json:"expires_in"`
	RefreshToken     vendorhttp.String `json:"refresh_token"`
	RefreshExpiresIn vendorhttp.Int    `json:"refresh_expires_in"`
	Geolocation      vendorhttp.String `json:"geolocation"`
}

// keep stores a successful token answer: the refresh token and the
// geolocation in memory and in the token store; the access token goes to
// the cache.
func (a *Auth) keep(ctx context.Context, body []byte, tokenURL string) (vendorhttp.Token, error) {
	var v tokenAnswer
	if err := json.Unmarshal(body, &v); err != nil {
		return vendorhttp.Token{}, fmt.Errorf("%w: an undecodable token answer", driver.ErrBadResponse)
	}
	if v.AccessToken == "" {
		return vendorhttp.Token{}, fmt.Errorf("%w: a token answer without access_token", driver.ErrBadResponse)
	}
	geo, ok := vendorhttp.BaseURL(string(v.Geolocation))
	if v.Geolocation == "" {
		geo, ok = vendorhttp.BaseURL(tokenURL)
	}
	if !ok {
		return vendorhttp.Token{}, fmt.Errorf("%w: an unusable geolocation", driver.ErrBadResponse)
	}
	now := a.http.Now()
	ttl := defaultAccessTTL
	if v.ExpiresIn.Set && v.ExpiresIn.N > 0 && v.ExpiresIn.N < 1<<31 {
		ttl = time.Duration(v.ExpiresIn.N) * time.Second
	}

	a.mu.Lock()
	if rt := string(v.RefreshToken); rt != "" && rt != a.refresh.Reveal() {
		a.refresh, a.refreshExp = vendorhttp.NewSecret(rt), time.Time{}
	}
	if n := v.RefreshExpiresIn.N; v.RefreshExpiresIn.Set && n > 0 && n < 1<<40 {
		if n > 1e9 { // epoch seconds, as documented
			a.refreshExp = time.Unix(n, 0)
		} else { // seconds from now, as some clients expect
			a.refreshExp = now.Add(time.Duration(n) * time.Second)
		}
	}
	a.geo = geo
	st := storedToken{
		ClientID: a.cfg.ClientID, CompanyUUID: a.cfg.CompanyUUID,
		RefreshToken: a.refresh.Reveal(), RefreshExpiresAt: a.refreshExp.UTC(), Geolocation: geo,
	}
	a.mu.Unlock()
	if st.RefreshToken != "" && a.shared == nil { // a shared store stores what renewShared returns
		b, _ := json.MarshalIndent(st, "", "  ") // cannot fail: strings and a time
		if err := a.store.Save(ctx, append(b, '\n')); err != nil {
			// The new refresh token is in memory; without the access token
			// the next call refreshes and tries to save again.
			return vendorhttp.Token{}, err
		}
	}
	return vendorhttp.Token{Value: vendorhttp.NewSecret(v.AccessToken), Expiry: now.Add(ttl)}, nil
}

// storedToken is what the token store keeps. A store shared by replicas
// (sealed in Redis) keeps the access token too, so that the replicas use
// the one a renewal got instead of each renewing.
type storedToken struct {
	ClientID         string    `json:"client_id"`
	CompanyUUID      string    `json:"company_uuid"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	Geolocation      string    `json:"geolocation"`
	AccessToken      string    `json:"access_token,omitempty"`
	AccessExpiresAt  time.Time `json:"access_expires_at,omitzero"`
}

// adoptMargin is the least time an access token from the shared store
// must have left to be used rather than renewed.
const adoptMargin = 2 * time.Minute

// renewShared renews through a token store that several replicas share.
// The store runs one renewal at a time across them and stores its result
// (refresh token, geolocation and access token) before another may
// start; a replica that finds a newer token stored than the one it had
// (another replica renewed, or this one just started) takes it instead
// of renewing. A refresh token that a renewal which never finished may
// have used is not used again: the request token takes over.
func (a *Auth) renewShared(ctx context.Context) (vendorhttp.Token, error) {
	for range 2 {
		a.mu.Lock()
		seen := a.seen
		a.mu.Unlock()
		var grantErr error
		data, err := a.shared.Renew(ctx, seen, func(ctx context.Context, stored []byte, reusable bool) ([]byte, error) {
			a.adopt(stored, reusable)
			tok, err := a.grants(ctx)
			if err != nil {
				grantErr = err
				return nil, err
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			b, _ := json.Marshal(storedToken{ // cannot fail: strings and times
				ClientID: a.cfg.ClientID, CompanyUUID: a.cfg.CompanyUUID,
				RefreshToken: a.refresh.Reveal(), RefreshExpiresAt: a.refreshExp.UTC(), Geolocation: a.geo,
				AccessToken: tok.Value.Reveal(), AccessExpiresAt: tok.Expiry.UTC(),
			})
			return b, nil
		})
		switch {
		case err != nil && err == grantErr:
			return vendorhttp.Token{}, err
		case err != nil:
			return vendorhttp.Token{}, fmt.Errorf("%w: the token store shared by the replicas: %w", driver.ErrUnavailable, err)
		}
		if tok, ok := a.adopt(data, true); ok {
			return tok, nil
		}
		// A token newer than this replica's, but its access token is
		// spent too: renew that one.
	}
	return vendorhttp.Token{}, fmt.Errorf("%w: the shared token store holds no usable token", driver.ErrUnavailable)
}

// adopt takes a token from the shared store: its refresh token (unless it
// may not be reused) and geolocation, and its access token while it has
// adoptMargin left. A foreign or undecodable one is ignored, and replaced
// by the next renewal.
func (a *Auth) adopt(data []byte, reusable bool) (vendorhttp.Token, bool) {
	if len(data) == 0 {
		return vendorhttp.Token{}, false
	}
	a.mu.Lock()
	a.seen = data // seen, even if unusable: the next renewal replaces it
	a.mu.Unlock()
	var st storedToken
	if json.Unmarshal(data, &st) != nil || st.ClientID != a.cfg.ClientID || st.CompanyUUID != a.cfg.CompanyUUID {
		return vendorhttp.Token{}, false
	}
	geo, ok := vendorhttp.BaseURL(st.Geolocation)
	if !ok {
		return vendorhttp.Token{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.geo = geo
	a.refresh, a.refreshExp = vendorhttp.Secret{}, time.Time{}
	if reusable && st.RefreshToken != "" {
		a.refresh, a.refreshExp = vendorhttp.NewSecret(st.RefreshToken), st.RefreshExpiresAt
	}
	if st.AccessToken == "" || !a.http.Now().Add(adoptMargin).Before(st.AccessExpiresAt) {
		return vendorhttp.Token{}, false
	}
	return vendorhttp.Token{Value: vendorhttp.NewSecret(st.AccessToken), Expiry: st.AccessExpiresAt}, true
}

// load reads the token store once. A missing, undecodable or foreign
// store is ignored: the request token takes over.
func (a *Auth) load(ctx context.Context) error {
	a.mu.Lock()
	loaded := a.loaded
	a.mu.Unlock()
	if loaded {
		return nil
	}
	b, err := a.store.Load(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loaded = true
	var st storedToken
	if len(b) == 0 || json.Unmarshal(b, &st) != nil || st.ClientID != a.cfg.ClientID || st.CompanyUUID != a.cfg.CompanyUUID {
		return nil
	}
	geo, ok := vendorhttp.BaseURL(st.Geolocation)
	if st.RefreshToken == "" || !ok {
		return nil
	}
	if a.refresh.IsZero() {
		a.refresh, a.refreshExp, a.geo = vendorhttp.NewSecret(st.RefreshToken), st.RefreshExpiresAt, geo
	}
	return nil
}
