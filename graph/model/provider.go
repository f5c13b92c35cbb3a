package model

import (
	"time"

	"github.com/dirgate/dirgate/providers"
)

// NewProviderStatus converts a provider's status for the schema: zero
// times become null, and the last error keeps only what clients may see.
func NewProviderStatus(st providers.SourceStatus) *ProviderStatus {
	out := &ProviderStatus{
		State:       ProviderState(st.State),
		Cached:      st.Cached,
		FetchedAt:   optTime(st.FetchedAt),
		RefreshAt:   optTime(st.RefreshAt),
		ServedUntil: optTime(st.ServedUntil),
		RetryAt:     optTime(st.RetryAt),
	}
	if !st.FetchedAt.IsZero() {
		age := int(st.Age / time.Second)
		out.AgeSeconds = &age
	}
	if e := st.LastError; e != nil {
		out.LastError = &ProviderFailure{Code: ProviderErrorCode(e.Code), Message: e.Error(), At: st.LastErrorAt}
	}
	if st.Sharing != "" {
		sh := ProviderSharing(st.Sharing)
		out.Sharing = &sh
	}
	if rl := st.RateLimit; rl != nil {
		out.RateLimit = &ProviderRateLimit{Limit: rl.Limit, Remaining: rl.Remaining, ResetAt: rl.Reset}
	}
	if d := st.Discovered; d != nil {
		out.Discovered = &ProviderDiscovery{Paging: d.Paging, Offered: d.Offered, At: d.At}
	}
	return out
}
