package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/limits"
)

// The response media types of the GraphQL-over-HTTP spec.
const (
	MediaJSON            = "application/json"
	MediaGraphQLResponse = "application/graphql-response+json"
)

// HTTP is dirgate's one GraphQL transport: GraphQL over HTTP as its spec
// (graphql.github.io/graphql-over-http) says, for GET and POST.
//
//   - The response's media type is negotiated from Accept, q-values
//     included: application/graphql-response+json or application/json
//     (the default, and the choice for */*). A request that accepts
//     neither is a 406.
//   - A request that is not a well-formed GraphQL-over-HTTP request (a
//     body that is not a JSON object, an unknown or mistyped parameter, no
//     query, a malformed persisted-query extension) is a 400 BAD_REQUEST
//     in both media types; an unsupported method a 405, and a POST whose
//     body is not application/json a 415.
//   - A request error found before execution (parse, validation, variable
//     coercion, dirgate's limits, persisted queries) is a 200 in
//     application/json, so that clients read it as GraphQL errors, and a
//     400 in application/graphql-response+json.
//   - A request error has no data entry; an executed operation always has
//     one, and is a 200.
//
// Every error carries an extensions.code, and every answer goes through
// the executor's error presenter and response interceptors, so that logs
// and metrics see it.
type HTTP struct{}

var _ graphql.Transport = HTTP{}

// Supports reports true: HTTP answers every request to the endpoint,
// the ones it cannot serve with a coded error.
func (HTTP) Supports(*http.Request) bool { return true }

const allowed = "GET, POST, OPTIONS"

// Do answers one request.
func (HTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	fail := func(status int, media, msg string) {
		resp := exec.DispatchError(ctx, gqlerror.List{requestError(errcode.BadRequest, msg)})
		write(w, status, media, resp)
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost:
	case http.MethodOptions:
		w.Header().Set("Allow", allowed)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", allowed)
		fail(http.StatusMethodNotAllowed, MediaJSON, "send a GraphQL request as POST with Content-Type: application/json, or as GET with a query parameter")
		return
	}
	media, ok := Negotiate(r.Header.Values("Accept"))
	if !ok {
		fail(http.StatusNotAcceptable, MediaJSON, "dirgate answers in application/graphql-response+json or application/json, and the Accept header allows neither")
		return
	}
	start := graphql.Now()
	var (
		params *graphql.RawParams
		status int
		msg    string
	)
	if r.Method == http.MethodGet {
		params, status, msg = readGET(r.URL)
	} else {
		params, status, msg = readPOST(r)
	}
	if params == nil {
		fail(status, media, msg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		write(w, statusOf(media, errs), media, resp)
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), gqlerror.List{
			requestError(errcode.BadRequest, "GET runs queries only: send a "+string(opCtx.Operation.Operation)+" as POST"),
		})
		write(w, http.StatusMethodNotAllowed, media, resp)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// The request's context ended before the operation ran: the
		// caller went away, or server.requestTimeout is too short for a
		// request to start.
		resp = exec.DispatchError(ctx, gqlerror.List{requestError(errcode.Internal, "the request ran out of time before it started")})
		write(w, http.StatusServiceUnavailable, media, resp)
		return
	}
	if resp.Data == nil {
		// Errors raised before execution, but after the request was
		// accepted; a response that ran always has data.
		write(w, statusOf(media, resp.Errors), media, resp)
		return
	}
	write(w, http.StatusOK, media, resp)
}

// statusOf is the HTTP status of a response that failed before execution
// with errs.
func statusOf(media string, errs gqlerror.List) int {
	for _, e := range errs {
		if e.Extensions["code"] == string(errcode.BadRequest) {
			return http.StatusBadRequest
		}
	}
	if media == MediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// requestError is an error in the HTTP request, coded for the presenter to
// pass on as it is.
func requestError(code errcode.Code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(code)}}
}

// A GraphQL response as dirgate writes it: "errors", "data" and
// "extensions", each only when not empty (so a request error has no data
// entry at all, not "data": null).
func write(w http.ResponseWriter, status int, media string, resp *graphql.Response) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	writeResponse(w, resp)
}

// writeResponse writes resp as json.Marshal writes its wireResponse, and
// a newline, without encoding the data again: it is JSON the executor
// made, so only json.Marshal's escapes (of <, > and &, and of U+2028 and
// U+2029) are added to it, as it is copied out.
func writeResponse(w io.Writer, resp *graphql.Response) {
	buf := append(make([]byte, 0, 256), '{')
	first := true
	member := func(name string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, `"`+name+`":`...)
	}
	if len(resp.Errors) > 0 {
		member("errors")
		buf = appendJSON(buf, resp.Errors)
	}
	if len(resp.Data) > 0 {
		member("data")
		w.Write(buf)
		writeEscaped(w, resp.Data)
		buf = buf[:0]
	}
	if len(resp.Extensions) > 0 {
		member("extensions")
		buf = appendJSON(buf, resp.Extensions)
	}
	w.Write(append(buf, '}', '\n'))
}

func appendJSON(buf []byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Errors and extensions are plain values: this cannot happen.
		panic(fmt.Errorf("graph: encode response: %w", err))
	}
	return append(buf, b...)
}

// writeEscaped writes JSON as json.Marshal writes a json.RawMessage that
// is already compact: with <, >, &, U+2028 and U+2029 escaped (they occur
// only inside strings).
func writeEscaped(w io.Writer, data []byte) {
	start := 0
	for i := 0; i < len(data); i++ {
		var esc string
		switch c := data[i]; {
		case c == '<':
			esc = `\u003c`
		case c == '>':
			esc = `\u003e`
		case c == '&':
			esc = `\u0026`
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			esc = `\u202` + string(rune('8'+data[i+2]&1))
		default:
			continue
		}
		w.Write(data[start:i])
		io.WriteString(w, esc)
		if data[i] == 0xE2 {
			i += 2
		}
		start = i + 1
	}
	w.Write(data[start:])
}

// Negotiate picks the response media type for the Accept header values:
// of application/graphql-response+json and application/json, the one
// with the higher q-value, where each takes the q of the most specific
// media range that matches it (RFC 9110, section 12.5.1). On a tie, a type
// named exactly beats one matched by a wildcard; two named exactly go to
// application/graphql-response+json, two matched by wildcards (such as
// */*) to application/json, which older clients expect. No Accept header
// means application/json. ok is false when neither is acceptable.
func Negotiate(accept []string) (media string, ok bool) {
	var ranges []mediaRange
	for _, v := range accept {
		for part := range strings.SplitSeq(v, ",") {
			if rg, ok := parseRange(part); ok {
				ranges = append(ranges, rg)
			}
		}
	}
	if len(ranges) == 0 && strings.TrimSpace(strings.Join(accept, "")) == "" {
		return MediaJSON, true
	}
	gq, gqSpec := quality(ranges, MediaGraphQLResponse)
	jq, jqSpec := quality(ranges, MediaJSON)
	switch {
	case gq == 0 && jq == 0:
		return "", false
	case gq > jq:
		return MediaGraphQLResponse, true
	case jq > gq:
		return MediaJSON, true
	case gqSpec > jqSpec || gqSpec == exact && jqSpec == exact:
		return MediaGraphQLResponse, true
	}
	return MediaJSON, true
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, sub string
	q        float64
}

// How specifically a media range matches a type.
const (
	noMatch = iota
	anyType // */*
	anySub  // application/*
	exact
)

func parseRange(s string) (mediaRange, bool) {
	mt, params, err := mime.ParseMediaType(strings.TrimSpace(s))
	if err != nil {
		return mediaRange{}, false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "*" && sub != "*" {
		return mediaRange{}, false
	}
	q := 1.0
	if v, ok := params["q"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return mediaRange{}, false
		}
		q = f
	}
	return mediaRange{typ: typ, sub: sub, q: q}, true
}

// quality is the q-value of media under ranges, and how specific the
// range that gave it is.
func quality(ranges []mediaRange, media string) (float64, int) {
	typ, sub, _ := strings.Cut(media, "/")
	q, spec := 0.0, noMatch
	for _, rg := range ranges {
		s := noMatch
		switch {
		case rg.typ == typ && rg.sub == sub:
			s = exact
		case rg.typ == typ && rg.sub == "*":
			s = anySub
		case rg.typ == "*" && rg.sub == "*":
			s = anyType
		}
		if s > spec || s == spec && s != noMatch && rg.q > q {
			q, spec = rg.q, s
		}
	}
	return q, spec
}

// The parameters of a GraphQL-over-HTTP request, and how a request with
// something else is told.
const paramsHint = "a GraphQL request has the parameters query, operationName, variables and extensions"

func readPOST(r *http.Request) (*graphql.RawParams, int, string) {
	mt, ctParams, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != MediaJSON {
		return nil, http.StatusUnsupportedMediaType, "send a GraphQL request as POST with Content-Type: application/json, or as GET with a query parameter"
	}
	if cs, ok := ctParams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, http.StatusUnsupportedMediaType, "the request body must be UTF-8: send Content-Type: application/json without a charset, or with charset=utf-8"
	}
	body, err := limits.ReadBody(r)
	if err != nil {
		return nil, http.StatusBadRequest, "the request body could not be read"
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, http.StatusBadRequest, "the request body is empty: " + paramsHint
	}
	if body[0] == '[' {
		return nil, http.StatusBadRequest, "batched requests are not supported: send one GraphQL request per HTTP request"
	}
	// One pass over the body, numbers kept as json.Number.
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, http.StatusBadRequest, "the request body is not a JSON object: " + paramsHint
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, http.StatusBadRequest, "the request body is not a JSON object: " + paramsHint
	}
	var p graphql.RawParams
	for k, v := range fields {
		var ok bool
		switch k {
		case "query":
			p.Query, ok = optString(v)
		case "operationName":
			p.OperationName, ok = optString(v)
		case "variables":
			p.Variables, ok = optObject(v)
		case "extensions":
			p.Extensions, ok = optObject(v)
		default:
			return nil, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: %s", truncate(k), paramsHint)
		}
		if !ok {
			return nil, http.StatusBadRequest, mistyped(k)
		}
	}
	return checkParams(&p)
}

func readGET(u *url.URL) (*graphql.RawParams, int, string) {
	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, http.StatusBadRequest, "the URL's query string is malformed"
	}
	var p graphql.RawParams
	for k, vs := range values {
		if len(vs) > 1 {
			return nil, http.StatusBadRequest, fmt.Sprintf("the parameter %q is given more than once", truncate(k))
		}
		v := vs[0]
		var bad bool
		switch k {
		case "query":
			p.Query = v
		case "operationName":
			p.OperationName = v
		case "variables":
			bad = v != "" && decodeObject(json.RawMessage(v), &p.Variables)
		case "extensions":
			bad = v != "" && decodeObject(json.RawMessage(v), &p.Extensions)
		default:
			return nil, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: %s", truncate(k), paramsHint)
		}
		if bad {
			return nil, http.StatusBadRequest, fmt.Sprintf("the %s parameter is not a URL-encoded JSON object", k)
		}
	}
	return checkParams(&p)
}

// checkParams checks what every request needs: a query, or the hash of a
// persisted one.
func checkParams(p *graphql.RawParams) (*graphql.RawParams, int, string) {
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return nil, http.StatusBadRequest, "the request has no query: " + paramsHint
	}
	return p, 0, ""
}

func mistyped(param string) string {
	switch param {
	case "variables", "extensions":
		return fmt.Sprintf("the %s parameter must be a JSON object or null", param)
	}
	return fmt.Sprintf("the %s parameter must be a string or null", param)
}

// optString reads a decoded JSON string or null ("").
func optString(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	}
	return "", false
}

// optObject reads a decoded JSON object or null (nil).
func optObject(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case map[string]any:
		return v, true
	}
	return nil, false
}

// decodeObject decodes a JSON object or null into m, numbers as
// json.Number, and reports whether raw was something else (a GET's
// variables and extensions).
func decodeObject(raw json.RawMessage, m *map[string]any) (bad bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(m); err != nil {
		return true
	}
	_, err := dec.Token()
	return err != io.EOF
}

// truncate shortens a client's parameter name for an error message.
func truncate(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// CacheHeaders sets the caching headers of every answer of the GraphQL
// endpoint, error or not: cacheControl (such as "no-store"), since answers
// carry personal data and a GET with a persisted query is otherwise
// cacheable by a shared cache or a CDN, and Vary: Accept, Authorization,
// Origin, since the answer depends on all three.
func CacheHeaders(cacheControl string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", cacheControl)
		h.Set("Vary", "Accept, Authorization, Origin")
		next.ServeHTTP(w, r)
	})
}
