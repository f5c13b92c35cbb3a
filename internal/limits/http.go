package limits

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/httperr"
	"github.com/dirgate/dirgate/providers"
)

// Hosts answers a request whose Host header names a host dirgate does not
// serve with 421 HOST_NOT_ALLOWED, before anything else runs: a defence
// against DNS rebinding, where a web page its operator visits points a
// name it controls at dirgate's address and reads the answers through the
// operator's browser. Accepted are the hosts in allowed (names compared
// without letter case or port), and, when loopback is set, loopback names
// and addresses (localhost, *.localhost, 127.0.0.0/8, ::1). With neither,
// or with "*" among allowed (the open demo, whose people are synthetic),
// every host is accepted. Requests to the paths in exempt (probes and
// scrapes, which carry no personal data and come with the pod's address
// as their host) are not checked.
func Hosts(allowed []string, loopback bool, exempt []string, next http.Handler) http.Handler {
	if len(allowed) == 0 && !loopback || slices.Contains(allowed, "*") {
		return next
	}
	set := map[string]bool{}
	for _, h := range allowed {
		set[canonicalHost(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := canonicalHost(hostOnly(r.Host))
		if host == "" || set[host] || loopback && LoopbackHost(host) || slices.Contains(exempt, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		httperr.Write(w, http.StatusMisdirectedRequest, errcode.HostNotAllowed,
			"this server does not answer for the host named in the Host header (see server.allowedHosts)")
	})
}

// LoopbackHost reports whether host (without port) names this machine
// only: localhost, a name under .localhost (RFC 6761), or a loopback
// address.
func LoopbackHost(host string) bool {
	host = canonicalHost(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func canonicalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// InFlight serves at most n requests at once. One more is answered at once
// with 503 OVERLOADED and Retry-After: 1, rather than queued without end.
func InFlight(n int, next http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			w.Header().Set("Retry-After", "1")
			httperr.Write(w, http.StatusServiceUnavailable, errcode.Overloaded,
				"dirgate is serving as many requests as it may at once: try again shortly")
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}

// CallBudget gives every request a budget of n vendor calls (see
// providers.WithCallBudget).
func CallBudget(n int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(providers.WithCallBudget(r.Context(), n)))
	})
}

// JSONValues answers a request whose JSON (a POST body, or a GET's
// variables and extensions) holds more than max values with 413
// REQUEST_TOO_LARGE, before it is decoded: decoding and coercing
// variables costs time in the number of values, and a 1 MiB body holds
// half a million of them (600 ms of CPU before anything was refused). The
// count is a scan of the bytes, values inside strings not counted. Use it
// inside Body, which bounds the bytes, and whose bytes it takes without
// copying them.
func JSONValues(max int, next http.Handler) http.Handler {
	tooMany := fmt.Sprintf("the request's JSON holds more than %d values (server.limits.tokens)", max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			n = jsonValues([]byte(q.Get("variables")), max) + jsonValues([]byte(q.Get("extensions")), max)
		} else if r.Body != nil && r.Body != http.NoBody {
			b, err := ReadBody(r)
			if err != nil {
				httperr.Write(w, http.StatusBadRequest, errcode.BadRequest, "the request body could not be read")
				return
			}
			n = jsonValues(b, max)
			r.Body = &readBody{Reader: bytes.NewReader(b), b: b}
		}
		if n > max {
			httperr.Write(w, http.StatusRequestEntityTooLarge, errcode.RequestTooLarge, tooMany)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jsonValues counts the values of the JSON text data, or at least max+1
// when there are more than max: every array, object and scalar, and
// nothing inside a string. Malformed JSON is counted as well as it goes;
// the decoder refuses it later.
func jsonValues(data []byte, max int) int {
	n, inString, escaped, scalar := 0, false, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString, scalar = true, false
			n++
		case '[', '{':
			n++
			scalar = false
		case ',', ':', ']', '}', ' ', '\t', '\n', '\r':
			scalar = false
		default: // a number, true, false or null
			if !scalar {
				n++
				scalar = true
			}
		}
		if n > max {
			return n
		}
	}
	return n
}
