// Package risk decides, inside the transaction of every outflow (a payment
// authorization, a withdrawal), whether it may go through, needs a passkey
// (step-up) or is held for an operator's review, and runs the operators'
// queue of held outflows (see docs/design.md, Risk, trust and limits).
//
// The rules are pure (rules.go, no ent import; Assess over Facts, table
// tested); service.go gathers the facts from the database in the caller's
// transaction (Facts, Assess), puts held outflows in the queue (Hold) and
// applies operators' decisions (Decide).
//
// Invariants:
//
//   - Each rule adds a stable reason code and raises the decision to at
//     least its level: NEW_PASSKEY, CREDENTIALS_CHANGED, UNUSUAL_AMOUNT,
//     BURST_MINUTE/BURST_HOUR below their hold thresholds and
//     NEW_COUNTERPARTY step up; FAR_UNUSUAL_AMOUNT, bursts at their hold
//     thresholds, FLAGGED_COUNTERPARTY and TAKEOVER_PATTERN (a new passkey
//     or changed credentials together with a burst or a far unusual
//     amount) hold. Reasons are sorted, so one set of facts always gives
//     one answer.
//   - A step-up is satisfied by a passkey assertion bound to the outflow;
//     without one (the password-free allowance) any reason refuses it with
//     PASSKEY_REQUIRED. A hold needs a passkey too, and then the outflow's
//     money is set aside at once (a payment's in escrow, HELD; a
//     withdrawal's in withdrawal clearing, HELD, nothing sent to the bank)
//     and it waits in the queue. The decision and reasons are stored on the
//     payment or withdrawal (and the payment's audit row).
//   - Assess runs after limits.Record in the same transaction: on
//     PostgreSQL that update holds the user's day counter row, so outflows
//     of one user and currency are assessed one at a time and each counts
//     those committed before it; SQLite writers are serialised anyway.
//   - A hold changes once: Decide does the HELD -> APPROVED|REJECTED
//     compare-and-set on the hold row and the handler of its kind (escrow,
//     wallet) moves the outflow on, in one transaction with the operator's
//     idempotency key. A rejection returns the money with balanced postings
//     and event rows; an approval lets it proceed (payment PAID, withdrawal
//     PENDING and sent to the bank after commit).
package risk
