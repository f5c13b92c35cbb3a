package providers

import "context"

type attemptKey struct{}

// withAttempt marks ctx as the attempt-th try (1, 2, ...) of a vendor
// call, for the HTTP transport's traces.
func withAttempt(ctx context.Context, attempt int) context.Context {
	return context.WithValue(ctx, attemptKey{}, attempt)
}

// Attempt returns which try of a vendor call ctx is for: 1 for the
// first, 2 for the first retry, and so on; 0 outside the portable
// layer's retries (a token renewal, say).
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}
