package graph

import "testing"

func TestNegotiate(t *testing.T) {
	const (
		json = MediaJSON
		gql  = MediaGraphQLResponse
	)
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"", json, true},
		{"*/*", json, true},           // Apollo Client 3, curl
		{"application/*", json, true}, // a wildcard tie goes to application/json
		{"application/json", json, true},
		{"application/graphql-response+json", gql, true},
		{"application/graphql-response+json,application/json;q=0.9", gql, true},                                                          // Apollo Client 4
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", gql, true}, // urql
		{"application/json, application/graphql-response+json", gql, true},                                                               // two exact at q=1
		{"application/graphql-response+json;q=0.5, application/json", json, true},
		{"application/json;q=0.2, */*;q=0.1", json, true},
		{"application/json;q=0.2, */*;q=0.3", gql, true}, // json's own q wins over */* for json only
		{"application/json;q=0, */*", gql, true},
		{"application/graphql-response+json;q=0, application/*", json, true},
		{"text/html, application/xhtml+xml", "", false},
		{"application/json;q=0", "", false},
		{"application/json;q=0, application/graphql-response+json;q=0, */*", "", false},
		{"text/*", "", false},
		{"garbage", "", false},
		{"application/json;q=2, application/graphql-response+json", gql, true}, // an invalid q drops its range
		{"APPLICATION/JSON", json, true},
		{"text/html;level=1, application/json; charset=utf-8", json, true},
	}
	for _, tt := range tests {
		got, ok := Negotiate([]string{tt.give})
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Negotiate(%q) = %q, %t, want %q, %t", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
	// Several Accept headers count as one list.
	if got, ok := Negotiate([]string{"text/html", "application/graphql-response+json"}); got != gql || !ok {
		t.Errorf("two Accept headers: %q %t", got, ok)
	}
}
