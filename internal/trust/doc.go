// Package trust keeps each user's trust score, 0 to 1000, from their
// verification level, account age, completed trades, refunds and lost
// disputes (see docs/design.md, Trust score). The rules are pure
// (rules.go: Score, FactorBPS, Cap, AdjustDaily, Config.TrustedMerchant,
// Config.MayRestrict; no ent import, table-tested); service.go keeps the
// inputs as counters on the score row and stores the score with them.
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
//   - Apply runs in the caller's transaction (package escrow's
//     transition, right after its compare-and-set) and adds each user's
//     Delta to their row with one UPDATE (n = n + delta, RETURNING the
//     counters with the user's registration time and level) in user-ID
//     order, which holds the row's lock until commit: concurrent
//     transitions of one user apply one after the other and lose no delta,
//     and no COUNT over payments runs (O(1) per user). The scores computed
//     from what those returned are stored in one more UPDATE of the locked
//     rows. A missing row starts from Recount less the delta. Apply takes
//     nothing but score rows.
//   - Recount (and Repair, which stores it) counts the same inputs afresh
//     from the payments and RESOLVE_DISPUTE audit rows (detail lostBy);
//     after any sequence of transitions it equals the row kept by delta.
//   - The trusted-merchant badge is decided when read (the 90 days since
//     the last lost dispute pass without a recomputation); the score it
//     uses is the stored one.
package trust
