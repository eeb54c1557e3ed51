// Package trust keeps each user's trust score, 0 to 1000, from their
// verification level, account age, completed trades, refunds and lost
// disputes (see docs/design.md, Trust score). The rules are pure
// (rules.go: Score, FactorBPS, Cap, AdjustDaily, Config.TrustedMerchant,
// Config.MayRestrict; no ent import, table-tested); service.go reads the
// inputs and stores the score with them.
//
// Invariants:
//
//   - Score is within 0..1000 for any inputs, and monotone in each: a higher
//     level, an older account or more completed trades never lower it;
//     more refunds or lost disputes never raise it.
//   - Cap and AdjustDaily never return a daily cap above the regulatory
//     one (the configured maximum daily limit), for any score and amount,
//     and never overflow. The level's limits are outside this package and
//     never adjusted.
//   - Recompute runs in the caller's transaction (package escrow's
//     transition, right after its compare-and-set), after Lock took the
//     user's score row: recomputations of one user run one after the
//     other, so the lost-dispute count, read and written back, loses no
//     update, and each counts the payments the others committed. The other
//     inputs are counted afresh from the payments each time. Lock takes
//     nothing but score rows, in the order given (by user ID).
//   - The trusted-merchant badge is decided when read (the 90 days since
//     the last lost dispute pass without a recomputation); the score it
//     uses is the stored one.
package trust
