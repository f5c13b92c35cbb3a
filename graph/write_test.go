package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// marshalled is how the transport wrote a response before it wrote the
// parts itself: json.Marshal of this struct, and a newline.
type marshalled struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// data returns s as JSON the executor would make: a string, unescaped but
// for what gqlgen escapes.
func executorString(s string) json.RawMessage {
	var b bytes.Buffer
	graphql.MarshalString(s).MarshalGQL(&b)
	return json.RawMessage(`{"users":{"edges":[{"node":{"firstName":` + b.String() + `,"active":true}}]}}`)
}

// TestWriteResponse: writeResponse writes byte for byte what json.Marshal
// of the response did, for every mix of errors, data and extensions, and
// data holding what json.Marshal escapes.
func TestWriteResponse(t *testing.T) {
	errs := gqlerror.List{{Message: "provider <getbill> & co", Path: ast.Path{ast.PathName("users")},
		Extensions: map[string]any{"code": "PROVIDER_UNAVAILABLE", "provider": "getbill"}}}
	ext := map[string]any{"persistedQuery": map[string]any{"sha256Hash": "ab&cd"}}
	var datas []json.RawMessage
	for _, s := range []string{"plain", "<script>alert('x')</script>", "a&b>c", "line\u2028sep\u2029para", "\u2027\u202a",
		"\xe2\x80", "\xe2\x80\xa8\xe2", "bad\xff\xfeutf8", `quote " back \ slash`, "ctl\x01\t\n", "Zoë 🚀"} {
		datas = append(datas, executorString(s))
	}
	datas = append(datas, nil, json.RawMessage(`null`), json.RawMessage(`{}`))
	for _, data := range datas {
		for _, e := range []gqlerror.List{nil, errs} {
			for _, x := range []map[string]any{nil, ext} {
				resp := &graphql.Response{Errors: e, Data: data, Extensions: x}
				want, err := json.Marshal(marshalled{Errors: e, Data: data, Extensions: x})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, '\n')
				var got bytes.Buffer
				writeResponse(&got, resp)
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("writeResponse(errors %d, data %q, extensions %d) =\n%q\nwant\n%q", len(e), data, len(x), got.Bytes(), want)
				}
			}
		}
	}
}
