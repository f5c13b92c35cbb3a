package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Concur's company tokens: the first login exchanges the company request
// token for an access token and a refresh token (password grant,
// credtype=authtoken); then the refresh grant renews the access token, at
// the geolocation of the latest token answer. The refresh token and the
// geolocation are kept in the token store across restarts. The token
// cache (vendorhttp.TokenCache) runs one renewal at a time, on a context
// detached from its callers'.

// renew gets a new access token: with the refresh token while it lasts,
// else (or when Concur refuses it) with the request token.
func (c *Client) renew(ctx context.Context) (vendorhttp.Token, error) {
	if err := c.load(ctx); err != nil {
		return vendorhttp.Token{}, err
	}
	c.mu.Lock()
	refresh, refreshExp, geo := c.refresh, c.refreshExp, c.geo
	c.mu.Unlock()

	var refreshErr error
	if !refresh.IsZero() && (refreshExp.IsZero() || c.http.Now().Before(refreshExp)) {
		tokenURL := c.cfg.TokenURL
		if geo != "" {
			tokenURL = geo + tokenPath
		}
		tok, err := c.grant(ctx, tokenURL, url.Values{
			"client_id":     {c.cfg.ClientID},
			"client_secret": {c.cfg.ClientSecret.Reveal()},
			"grant_type":    {"refresh_token"},
			"refresh_token": {refresh.Reveal()},
		})
		var te *tokenError
		if !errors.As(err, &te) || (te.Code != 108 && te.Code != 105) {
			return tok, err // a token, or a failure the request token cannot fix
		}
		refreshErr = err
		c.mu.Lock()
		c.refresh, c.refreshExp = vendorhttp.Secret{}, time.Time{}
		c.mu.Unlock()
	}
	if c.cfg.RequestToken.IsZero() {
		if refreshErr != nil {
			return vendorhttp.Token{}, fmt.Errorf("%w; no requestToken is configured: a new company request token is needed", refreshErr)
		}
		return vendorhttp.Token{}, fmt.Errorf("concur: token: %w: no usable refresh token and no requestToken: a new company request token is needed", driver.ErrAuth)
	}
	tok, err := c.grant(ctx, c.cfg.TokenURL, url.Values{
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret.Reveal()},
		"grant_type":    {"password"},
		"username":      {c.cfg.CompanyUUID},
		"password":      {c.cfg.RequestToken.Reveal()},
		"credtype":      {"authtoken"},
	})
	if err != nil && refreshErr != nil {
		return tok, fmt.Errorf("%w (after the refresh token was refused)", err)
	}
	return tok, err
}

// grant posts one token request, following a "user lives elsewhere"
// answer once, and keeps what comes back.
func (c *Client) grant(ctx context.Context, tokenURL string, form url.Values) (vendorhttp.Token, error) {
	kind := form.Get("grant_type")
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return vendorhttp.Token{}, fmt.Errorf("concur: token: %w: an unusable token URL", driver.ErrBadResponse)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		var tok vendorhttp.Token
		var elsewhere string
		err = c.http.Do(ctx, req, c.http.Limit(1), func(r *vendorhttp.Response) error {
			s := r.Status
			switch {
			case s == http.StatusOK:
				var kerr error
				tok, kerr = c.keep(ctx, r.Body, tokenURL)
				return kerr
			case s == http.StatusTooManyRequests || vendorhttp.Temporary(s):
				return vendorhttp.StatusError(s, r.Header, c.http.Now())
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
			return vendorhttp.Token{}, fmt.Errorf("concur: token: %w", err)
		}
		if elsewhere == "" {
			return tok, nil
		}
		geo, ok := vendorhttp.BaseURL(elsewhere)
		if !ok {
			return vendorhttp.Token{}, fmt.Errorf("concur: token: %w: user lives elsewhere, at an unusable geolocation", driver.ErrBadResponse)
		}
		tokenURL = geo + tokenPath
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
func (c *Client) keep(ctx context.Context, body []byte, tokenURL string) (vendorhttp.Token, error) {
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
	now := c.http.Now()
	ttl := defaultAccessTTL
	if v.ExpiresIn.Set && v.ExpiresIn.N > 0 && v.ExpiresIn.N < 1<<31 {
		ttl = time.Duration(v.ExpiresIn.N) * time.Second
	}

	c.mu.Lock()
	if rt := string(v.RefreshToken); rt != "" && rt != c.refresh.Reveal() {
		c.refresh, c.refreshExp = vendorhttp.NewSecret(rt), time.Time{}
	}
	if n := v.RefreshExpiresIn.N; v.RefreshExpiresIn.Set && n > 0 && n < 1<<40 {
		if n > 1e9 { // epoch seconds, as documented
			c.refreshExp = time.Unix(n, 0)
		} else { // seconds from now, as some clients expect
			c.refreshExp = now.Add(time.Duration(n) * time.Second)
		}
	}
	c.geo = geo
	st := storedToken{
		ClientID: c.cfg.ClientID, CompanyUUID: c.cfg.CompanyUUID,
		RefreshToken: c.refresh.Reveal(), RefreshExpiresAt: c.refreshExp.UTC(), Geolocation: geo,
	}
	c.mu.Unlock()
	if st.RefreshToken != "" {
		b, _ := json.MarshalIndent(st, "", "  ") // cannot fail: strings and a time
		if err := c.store.Save(ctx, append(b, '\n')); err != nil {
			// The new refresh token is in memory; without the access token
			// the next call refreshes and tries to save again.
			return vendorhttp.Token{}, fmt.Errorf("concur: %w", err)
		}
	}
	return vendorhttp.Token{Value: vendorhttp.NewSecret(v.AccessToken), Expiry: now.Add(ttl)}, nil
}

// storedToken is what the token store keeps.
type storedToken struct {
	ClientID         string    `json:"client_id"`
	CompanyUUID      string    `json:"company_uuid"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	Geolocation      string    `json:"geolocation"`
}

// load reads the token store once. A missing, undecodable or foreign
// store is ignored: the request token takes over.
func (c *Client) load(ctx context.Context) error {
	c.mu.Lock()
	loaded := c.loaded
	c.mu.Unlock()
	if loaded {
		return nil
	}
	b, err := c.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("concur: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded = true
	var st storedToken
	if len(b) == 0 || json.Unmarshal(b, &st) != nil || st.ClientID != c.cfg.ClientID || st.CompanyUUID != c.cfg.CompanyUUID {
		return nil
	}
	geo, ok := vendorhttp.BaseURL(st.Geolocation)
	if st.RefreshToken == "" || !ok {
		return nil
	}
	if c.refresh.IsZero() {
		c.refresh, c.refreshExp, c.geo = vendorhttp.NewSecret(st.RefreshToken), st.RefreshExpiresAt, geo
	}
	return nil
}
