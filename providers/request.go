package providers

import (
	"context"
	"sync"
)

// One request reads each whole directory at most once. The copy a request
// first gets is the one all its pages, totals and lookups see, whatever the
// cache's TTL: with a TTL of zero nothing is kept between requests, but a
// page and the lookups under it (or two batches of lookups) still make one
// directory call, and a refresh that lands mid-request cannot show the
// request two versions of the directory.

type requestKey struct{}

type requestCopies struct {
	mu     sync.Mutex
	copies map[*Source]*Snapshot
}

// WithRequest returns ctx marked as one request's: whole-directory reads
// made with it, or with contexts derived from it, share one copy per
// provider.
func WithRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestKey{}, &requestCopies{copies: map[*Source]*Snapshot{}})
}

// requestCopy returns the copy of s's directory that the request behind
// ctx has read, or nil.
func requestCopy(ctx context.Context, s *Source) *Snapshot {
	rc, _ := ctx.Value(requestKey{}).(*requestCopies)
	if rc == nil {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.copies[s]
}

// keepRequestCopy records sn as the request's copy of s's directory, unless
// the request has one already, and returns the request's copy.
func keepRequestCopy(ctx context.Context, s *Source, sn *Snapshot) *Snapshot {
	rc, _ := ctx.Value(requestKey{}).(*requestCopies)
	if rc == nil {
		return sn
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if have := rc.copies[s]; have != nil {
		return have
	}
	rc.copies[s] = sn
	return sn
}
