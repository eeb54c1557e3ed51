// Package wallet moves money between users' wallets and their bank cards:
// linking cards, top-ups, withdrawals, the bank gateway's outcomes, and the
// balances and history a user sees.
//
// Invariants:
//   - A card number is never stored: only the gateway's token and its last
//     four digits. The holder's name is stored sealed with the identity
//     keyring (bound to its user and card) and shown only masked; rows from
//     before migration 0005 are sealed by SealHolderNames at start-up.
//   - Every state change of a top-up or withdrawal is one database
//     transaction with its ledger postings (if any), its event row, and for
//     the request itself its idempotency key.
//   - A top-up moves money only when the gateway reports success (custody
//     debited, the user's available credited); a failed one moves nothing.
//   - A withdrawal holds the amount at once (available -> withdrawal
//     clearing) and either pays it out (clearing -> custody) or returns it.
//   - Gateway outcomes are applied once: a PENDING -> final compare-and-set
//     decides, so duplicate callbacks change nothing.
//   - An outcome whose amount or currency is not the operation's changes
//     nothing: AMOUNT_MISMATCH, logged at error level as AlertAmountMismatch.
//   - A gateway with a bounded queue (bank.Admitter) is asked before a new
//     top-up or withdrawal starts: while it has no room the operation is
//     refused with RATE_LIMITED and nothing changes (a replay is still
//     answered). ResendPending claims at most what it has room for.
//   - The gateway is never called inside a transaction: LinkBankCard
//     tokenizes before its transaction, TopUp and Withdraw call it after
//     theirs commits.
//   - A page of history costs a bounded number of queries whatever its
//     size: under WithEntryContexts (one per GraphQL operation) the context
//     of each entry (operation, card, counterparty) is loaded per page, in
//     at most eight queries, and shared by every field that asks.
package wallet
