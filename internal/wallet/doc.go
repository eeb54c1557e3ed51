// Package wallet moves money between users' wallets and their bank cards:
// linking cards, top-ups, withdrawals, the bank gateway's outcomes, and the
// balances and history a user sees.
//
// Invariants:
//   - A card number is never stored: only the gateway's token and its last
//     four digits.
//   - Every state change of a top-up or withdrawal is one database
//     transaction with its ledger postings (if any), its event row, and for
//     the request itself its idempotency key.
//   - A top-up moves money only when the gateway reports success (custody
//     debited, the user's available credited); a failed one moves nothing.
//   - A withdrawal holds the amount at once (available -> withdrawal
//     clearing) and either pays it out (clearing -> custody) or returns it.
//   - Gateway outcomes are applied once: a PENDING -> final compare-and-set
//     decides, so duplicate callbacks change nothing.
//   - The gateway is called only after the request's transaction commits.
//   - A page of history costs a bounded number of queries whatever its
//     size: under WithEntryContexts (one per GraphQL operation) the context
//     of each entry (operation, card, counterparty) is loaded per page, in
//     at most six queries, and shared by every field that asks.
package wallet
