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
//     transition, right after its compare-and-set) and adds every user's
//     Delta to their row with one UPDATE (n = n + CASE user_id ...,
//     RETURNING the counters with each user's registration time and
//     level), which locks the rows in user-ID order (on PostgreSQL a
//     sorted FOR NO KEY UPDATE subquery, COLLATE "C" as Go sorts) and
//     holds them until commit: concurrent transitions of one user apply
//     one after the other and lose no delta, transitions sharing users
//     cannot deadlock on their rows, and no COUNT over payments runs (O(1)
//     per user). The scores computed from what it returned are stored in
//     one more UPDATE of the locked rows, which on PostgreSQL also carries
//     the caller's Rider (escrow's seller volume) as a CTE; a Rider always
//     runs after the score rows are locked. The UPDATE changes all the rows
//     or none: when one is missing, each user is updated alone, in
//     user-ID order, a missing row starting from Recount less the delta.
//     Apply takes nothing but score rows (and what its Rider takes).
//   - Recount (and Repair, which stores it) counts the same inputs afresh
//     from the payments and RESOLVE_DISPUTE audit rows (detail lostBy);
//     after any sequence of transitions it equals the row kept by delta.
//   - The trusted-merchant badge is decided when read (the 90 days since
//     the last lost dispute pass without a recomputation); the score it
//     uses is the stored one.
package trust
