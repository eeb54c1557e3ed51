// Package sandboxbank is the simulated acquirer that DANBAO_SANDBOX turns on
// (docs/design.md, "Sandbox"): it tokenizes cards, decides each charge and
// payout by the card (bank.SandboxOutcome) and reports the outcome the way a
// real gateway would, as a signed bank.Callback posted to the server's
// callback endpoint, retried with backoff until it is answered.
//
// Invariants:
//
//   - A token records the card's sandbox outcome class and nothing else
//     about the number.
//   - Every callback carries the amount and currency of the request it
//     answers, and is signed with the server's callback secret; it reaches
//     danbao only through the same HTTP handler (signature check included)
//     a real gateway's callback would.
//   - Deliveries wait in a queue of at most QueueSize callbacks, posted by
//     a fixed number of Senders; Drain waits for all of them. A 400, 404,
//     409 or 422 answer is final and not retried.
//   - The queue never grows beyond QueueSize: while it is full, Room is 0
//     and the wallet refuses new top-ups and withdrawals with RATE_LIMITED
//     (Busy); a callback that still finds it full is dropped and its
//     operation stays PENDING until the wallet's recovery re-sends it.
//   - Close returns within its context whatever is queued: queued
//     callbacks are dropped and those in flight abandoned, left PENDING
//     for recovery after the restart.
//   - Operations on the pending card wait until Settle is called.
package sandboxbank
