// Package escrow runs escrowed payments (担保交易): the buyer pays into
// escrow with a passkey, the seller ships, the buyer confirms receipt (or
// the deadline does) and the money is released to the seller less the fee;
// refunds, disputes and buyer protection in between. See docs/design.md
// (escrowed payments) for the states and docs/architecture.md for how a
// transition is applied.
//
// The rules are pure (rules.go, fee.go; no ent import): Transition maps
// (state, event, actor) to the next state and the money it moves, Schedule
// the deadlines, Fee the seller fee. The Service applies them.
//
// Invariants:
//
//   - Every transition is one database transaction: a compare-and-set on
//     the status (UPDATE ... WHERE id = ? AND status = from; zero rows means
//     another actor or the scheduler moved the payment first, and the
//     caller gets INVALID_STATE naming the current state), its postings
//     (one balanced journal transaction referencing the payment), one
//     PaymentEvent audit row and event rows for both parties. A user and
//     the deadline scheduler racing for one payment cannot both win.
//   - The two event rows of a transition are consecutive (payer, then
//     payee), both name the audit row (AuditKey), and only the payer's
//     carries the payment's partner app: a partner sees each transition
//     once, and a transition's cursor is the seq of its last row
//     (EventSeq), so no party resuming from it sees that transition again.
//   - A partner app creates payments only for sellers who have connected
//     it (checked inside the creation transaction); the buyer still
//     authorizes with their passkey.
//   - Escrow never pays out more than it holds for a payment: refunds plus
//     the release equal the amount paid. Partial refunds add up to at most
//     the amount.
//   - The payment challenge is spent in its own committed transaction
//     before the money transaction, so an assertion can never be replayed
//     after a rolled-back authorization; a money transaction that fails
//     afterwards leaves a AUTHORIZATION_FAILED row on the audit trail.
//   - Level limits and the payer's freeze are checked and
//     recorded inside the authorization's money transaction; the payee's
//     collection restriction inside creation and authorization. Creation
//     reads the payee, both levels and both parties' controls in one
//     statement (checkParties); the authorization reads the controls with
//     the limits (limits.RecordChecked) and refuses on them first.
//   - Risk assesses every authorization in its money transaction, after
//     the limits (risk.go). Without a credential the payment goes through
//     only within the password-free allowance and when risk allows. A held
//     payment goes CREATED -> HELD with its money in escrow and no
//     deadline; only an operator moves it on (DecideHeld: APPROVE_HOLD to
//     PAID, REJECT_HOLD to REFUNDED with everything returned).
//   - Fees are taken only at release, from the seller's side, into the
//     FEES account; the free monthly volume is counted per seller, currency
//     and China Standard Time month in a row raised in the release
//     transaction, so concurrent releases share it exactly once. That row
//     is locked after both parties' trust score rows (volume.go: on
//     PostgreSQL its upsert rides the statement storing the scores), never
//     before one, so a hot seller's releases cannot deadlock on them.
//   - Buyer protection compensation comes from the PROTECTION_FUND account,
//     which an operator funds; it never touches escrow.
//   - With a trust service (SetTrust), a transition that completes, refunds
//     (in whole or part) or disputes a payment, or decides its dispute,
//     adds its deltas to both parties' trust inputs in its own
//     transaction, right after its compare-and-set, their score rows
//     locked in user-ID order (rescore, trust.go); a decided dispute counts
//     as lost for the seller when money went back to the buyer, for the
//     buyer otherwise, and its audit row says who (detail lostBy).
//     restrictLowTrust checks the score and restricts in one transaction.
package escrow
