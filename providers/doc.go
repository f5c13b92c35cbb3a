// Package providers is the portable layer between dirgate's GraphQL API and
// its directory vendors' adapters (package driver), in the manner of
// go-cloud's portable types: a Source wraps one driver.Provider and does
// everything that is the same for every vendor, once:
//
//   - request planning: splitting a page into vendor requests of the
//     vendor's page size and running them concurrently, within the
//     provider's cap on requests in flight across every GraphQL request;
//   - per-request retries and timeouts (retry.go), the per-request
//     vendor-call budget (budget.go), and short pages, vendors that ignore
//     the page size, and empty pages that claim more;
//   - filters the vendor cannot apply, applied while paging, with the
//     vendor's own position kept in the cursor (partial pushdown);
//   - the cache, rate budget and index of whole-directory vendors
//     (cache.go, snapshot.go);
//   - lookups by ids and by emails (lookup.go);
//   - positions that carry anchors and re-anchor when the directory
//     changes mid-walk (position.go, walk.go), or fail with
//     DIRECTORY_CHANGED;
//   - the classification of every failure into the codes clients see
//     (errors.go).
//
// Directory merges the Sources into one paged connection (directory.go).
package providers
