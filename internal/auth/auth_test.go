package auth

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/internal/errcode"
)

func TestAPIKeys(t *testing.T) {
	key, hash := GenerateKey()
	other, otherHash := GenerateKey()
	var logs bytes.Buffer
	k, err := NewAPIKeys([]string{otherHash, strings.ToUpper(hash[:7]) + hash[7:]}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(k.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "in as "+KeyID(r.Context()))
	})))
	defer srv.Close()

	tests := []struct {
		name       string
		headers    []string
		wantStatus int
		wantBody   string
	}{
		{"no key", nil, 401, "an API key is required"},
		{"wrong key", []string{"Bearer wrong-" + key}, 401, "not valid"},
		{"key without scheme", []string{key}, 401, "must be Bearer"},
		{"basic scheme", []string{"Basic " + key}, 401, "must be Bearer"},
		{"empty bearer", []string{"Bearer "}, 401, "must be Bearer"},
		{"two headers", []string{"Bearer " + key, "Bearer " + key}, 401, "one Authorization header"},
		{"right key", []string{"Bearer " + key}, 200, "in as " + hash[7:19]},
		{"right key, scheme in lower case", []string{"bearer  " + key}, 200, "in as " + hash[7:19]},
		{"the other key", []string{"Bearer " + other}, 200, "in as " + otherHash[7:19]},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
		for _, h := range tt.headers {
			req.Header.Add("Authorization", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
			t.Errorf("%s: %d %s, want %d and %q", tt.name, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
		}
		if tt.wantStatus != 401 {
			continue
		}
		var r struct {
			Errors []struct {
				Message    string
				Extensions map[string]string
			}
		}
		if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != string(errcode.Unauthenticated) {
			t.Errorf("%s: body %s, want one UNAUTHENTICATED error (%v)", tt.name, body, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: Content-Type %q, WWW-Authenticate %q", tt.name, ct, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), other) {
		t.Errorf("a key reached the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "caller not authenticated") {
		t.Errorf("rejections are not logged at debug level:\n%s", logs.String())
	}
}

func TestNewAPIKeysErrors(t *testing.T) {
	for _, give := range [][]string{nil, {"plain-key"}, {"sha256:abc"}, {"md5:" + strings.Repeat("0", 64)}} {
		_, err := NewAPIKeys(give, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("NewAPIKeys(%q) = nil error", give)
			continue
		}
		for _, g := range give {
			if strings.Contains(err.Error(), g) {
				t.Errorf("NewAPIKeys error %q quotes its input", err)
			}
		}
	}
}

func TestHashKey(t *testing.T) {
	// printf k | sha256sum
	if got, want := HashKey("k"), "sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"; got != want {
		t.Errorf("HashKey(k) = %s, want %s", got, want)
	}
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	if a == b || len(a) < 40 {
		t.Errorf("GenerateKey made %q and %q", a, b)
	}
}
