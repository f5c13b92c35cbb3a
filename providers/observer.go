package providers

import "time"

// Observer is told what the portable layer does, for metrics. Its methods
// must be quick and safe for concurrent use; they get provider keys and
// error codes, never users.
type Observer interface {
	// Call reports an operation through the portable layer (a page, a
	// count, a lookup) that took d and ended with err (nil, or an *Error).
	Call(provider string, d time.Duration, err error)
	// Retry reports that a failed vendor request is about to be tried
	// again.
	Retry(provider string)
	// Cache reports a lookup of a whole-directory copy.
	Cache(provider string, result CacheResult)
}

// CacheResult is how a lookup of a whole-directory copy was answered.
type CacheResult string

const (
	// CacheHit: a fresh copy, without a vendor call.
	CacheHit CacheResult = "hit"
	// CacheMiss: the vendor was asked (alone, or in one call shared with
	// concurrent lookups).
	CacheMiss CacheResult = "miss"
	// CacheStale: a stale copy, without a vendor call, since calls are held
	// back after a failure.
	CacheStale CacheResult = "stale"
	// CacheHeld: the last failure, without a vendor call, since calls are
	// held back after it and there is no copy to serve.
	CacheHeld CacheResult = "held"
)

// observeCall tells the observer, if any, about an operation that began
// at start.
func (s *Source) observeCall(start time.Time, err error) {
	if o := s.opts.Observer; o != nil {
		if err != nil {
			err = classify(s.Key, err)
		}
		o.Call(s.Key, time.Since(start), err)
	}
}

// observeCache tells the observer, if any, how a lookup was answered.
func (s *Source) observeCache(r CacheResult) {
	if o := s.opts.Observer; o != nil {
		o.Cache(s.Key, r)
	}
}
