// Package page is danbao's one rule for the size of a page of any Relay
// connection (ledger history, passkeys, pending verifications, payments):
//
//   - first and last are each between 0 and Max (inclusive);
//   - a client passes first or last, not both;
//   - with neither, the page is the first Default items.
//
// A refusal is INVALID_INPUT naming the argument as the client wrote it
// (field ["first"] or ["last"]). Domain services call Bound and hand its
// result to ent's Paginate.
package page

import "danbao/internal/apperr"

// Page sizes of every connection.
const (
	// Default is the page size when a client passes neither first nor last.
	Default = 20
	// Max is the largest first or last a client may ask for.
	Max = 100
)

// Bound checks a connection's first and last arguments and returns the
// sizes to paginate with: first defaults to Default when both are nil.
// Errors: INVALID_INPUT on "first" or "last" (outside 0..Max), on "last"
// (both given).
func Bound(first, last *int) (*int, *int, error) {
	for _, a := range []struct {
		name string
		n    *int
	}{{"first", first}, {"last", last}} {
		if a.n != nil && (*a.n < 0 || *a.n > Max) {
			return nil, nil, apperr.InvalidArgument(a.name, "%s must be between 0 and %d", a.name, Max)
		}
	}
	if first != nil && last != nil {
		return nil, nil, apperr.InvalidArgument("last", "pass first or last, not both")
	}
	if first == nil && last == nil {
		n := Default
		first = &n
	}
	return first, last, nil
}
