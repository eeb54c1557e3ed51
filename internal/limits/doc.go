// Package limits enforces the limits a wallet's verification level sets on
// payments from its balance (see docs/design.md, Real-name verification,
// levels and limits): level I 1,000 CNY
// over the account's life, level II 100,000 CNY and level III 200,000 CNY a
// calendar year, none at all unverified. Any money movement calls it inside
// its own transaction: Check to refuse early, Record to count the payment.
// The arithmetic is pure (rules.go, no ent import); service.go meets
// storage.
//
// Invariants:
//
//   - Usage is kept per wallet and currency in two counters, the lifetime
//     one and one per calendar year (China Standard Time by default), and
//     every recorded payment adds to both, whatever the level: an upgrade
//     from level I to II counts what was paid earlier in the year.
//   - Record adds to the counter the level's limit applies to with one
//     conditional UPDATE (used_minor <= limit - amount); zero rows changed
//     means the limit would be exceeded. It is atomic on SQLite and
//     PostgreSQL, so concurrent payments of one wallet cannot together pass
//     one remaining allowance. Counters are always touched lifetime first,
//     then the year, so two payments never lock them in opposite orders.
//   - A refusal is VERIFICATION_REQUIRED (the level may not pay at all) or
//     LIMIT_EXCEEDED, whose extensions name the limit (limit:
//     LIFETIME_BALANCE_PAYMENTS or ANNUAL_BALANCE_PAYMENTS), what remains
//     (remaining, a decimal string, with currency) and, when one exists, the
//     lowest level that would allow the payment (requiredLevel). A currency
//     the level does not configure is refused with LIMIT_EXCEEDED.
//   - Check, Record and RequireVerified never commit: they run in the
//     caller's transaction and change nothing when they refuse.
package limits
