package model

import (
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/kinds"
)

// TestProviderStatusEnums: every state and provider code the portable
// layer reports is a value of the schema's enums.
func TestProviderStatusEnums(t *testing.T) {
	for _, s := range []providers.State{providers.StateUnknown, providers.StateOK, providers.StateStale, providers.StateFailing} {
		if !ProviderState(s).IsValid() {
			t.Errorf("state %q is not a ProviderState", s)
		}
	}
	for _, c := range []errcode.Code{errcode.ProviderUnavailable, errcode.ProviderRateLimited, errcode.ProviderAuthFailed, errcode.ProviderBadResponse} {
		if !ProviderErrorCode(c).IsValid() {
			t.Errorf("code %q is not a ProviderErrorCode", c)
		}
	}
}

func TestNewProviderStatus(t *testing.T) {
	t0 := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	got := NewProviderStatus(providers.SourceStatus{
		State: providers.StateStale, Cached: true, FetchedAt: t0, Age: 4*time.Minute + 999*time.Millisecond,
		RefreshAt: t0.Add(time.Minute), ServedUntil: t0.Add(15 * time.Minute),
		LastError:   &providers.Error{Provider: "getbill", Code: errcode.ProviderUnavailable, Err: errSecret{}},
		LastErrorAt: t0.Add(4 * time.Minute),
		RateLimit:   &providers.RateLimit{Limit: 1000, Remaining: 3, Reset: t0.Add(time.Hour)},
	})
	if got.State != ProviderStateStale || !got.Cached || *got.AgeSeconds != 240 || !got.FetchedAt.Equal(t0) || got.RetryAt != nil {
		t.Errorf("status = %+v", got)
	}
	if e := got.LastError; e == nil || e.Code != ProviderErrorCodeProviderUnavailable || e.Message != `provider "getbill" is unavailable` || !e.At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("lastError = %+v (the cause must not show)", e)
	}
	if rl := got.RateLimit; rl == nil || rl.Remaining != 3 || !rl.ResetAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("rateLimit = %+v", rl)
	}
	live := NewProviderStatus(providers.SourceStatus{State: providers.StateOK})
	if live.FetchedAt != nil || live.AgeSeconds != nil || live.RefreshAt != nil || live.ServedUntil != nil || live.LastError != nil || live.RateLimit != nil {
		t.Errorf("live status = %+v, want nulls", live)
	}
}

type errSecret struct{}

func (errSecret) Error() string { return "token s3cr3t refused" }

// TestEveryKindHasAProviderKind: no kind of the kinds table can make a
// Provider.kind outside the schema, and every ProviderKind value is a
// kind.
func TestEveryKindHasAProviderKind(t *testing.T) {
	seen := map[ProviderKind]bool{}
	for _, k := range kinds.All() {
		if !ProviderKind(k.GraphQL).IsValid() {
			t.Errorf("kind %q: its ProviderKind %q is not in the schema", k.Name, k.GraphQL)
		}
		seen[ProviderKind(k.GraphQL)] = true
	}
	for _, v := range AllProviderKind {
		if !seen[v] {
			t.Errorf("ProviderKind %s names no kind of the kinds table", v)
		}
	}
}
