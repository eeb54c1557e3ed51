// Package bank holds the rules danbao shares with any bank gateway, and
// nothing that performs I/O: card number validation and branding, the
// sandbox's card-to-outcome rule (docs/design.md, "Sandbox"), the Gateway
// and Callback contract, the check that a callback's amount and currency
// are the operation's, and the HMAC signature on the callbacks through
// which a gateway reports the outcome of a top-up or withdrawal.
//
// The simulated gateway lives in internal/sandboxbank; the HTTP endpoint
// that receives callbacks lives with the other HTTP handlers in
// internal/app; applying an outcome to the ledger is internal/wallet's.
//
// Invariants:
//
//   - A card number is accepted only as 12 to 19 ASCII digits (spaces and
//     dashes between them are stripped) that pass the Luhn check. Errors
//     about a card number never contain the number or any part of it; only
//     Last4 and Brand may be stored or shown.
//   - A callback is trusted only if Verify accepts it: its header names a
//     timestamp and at least one v1 signature, one v1 entry equals
//     HMAC-SHA256(secret, "<unix seconds>.<body>") (compared in constant
//     time), and the timestamp is within the signer's tolerance of now in
//     either direction, which bounds how long a captured callback can be
//     replayed. Several v1 entries are allowed so that the sender can sign
//     with an old and a new secret while secrets rotate.
//   - A malformed or missing header is INVALID_INPUT; a signature that does
//     not match is UNAUTHENTICATED; an authentic but stale or future-dated
//     callback is UNAUTHENTICATED with its own message. A signer without a
//     secret verifies nothing: that is an internal (configuration) error.
//   - A callback moves money only if its amount (minor units) and currency
//     equal those of the operation it names (CheckAmount); otherwise it is
//     AMOUNT_MISMATCH.
//   - Gateway calls may block on the network: callers make them with a
//     context and never inside a database transaction.
package bank
