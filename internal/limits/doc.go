// Package limits enforces the limits a wallet's verification level sets on
// payments from its balance (see docs/design.md, Real-name verification,
// levels and limits): level I 1,000 CNY
// over the account's life, level II 100,000 CNY and level III 200,000 CNY a
// calendar year, none at all unverified; and the daily limit by strength of
// authorization: a passkey assertion with user verification (two factors,
// one a device-bound key) allows up to a daily limit the user chooses
// (setDailyLimit), at most a configured maximum, the configured default
// until they choose. Any money movement out of a balance calls it inside
// its own transaction: Check to refuse early, Record to count it.
// The arithmetic is pure (rules.go, no ent import); service.go meets
// storage.
//
// Invariants:
//
//   - Usage is kept per wallet and currency in two counters, the lifetime
//     one and one per calendar year (China Standard Time by default), and
//     every recorded payment adds to both, whatever the level: an upgrade
//     from level I to II counts what was paid earlier in the year.
//   - Record reads the counters, the chosen daily limit, the trust score
//     and the level in one SELECT, decides, then raises the lifetime, year
//     and day counters in one upsert (INSERT ... ON CONFLICT DO UPDATE ...
//     WHERE ... RETURNING period), the counter the level's limit applies to
//     and the day's only while used_minor <= limit - amount: a counter not
//     returned means its limit would be exceeded. It is atomic on SQLite
//     and PostgreSQL, so concurrent payments of one wallet cannot together
//     pass one remaining allowance. The upsert touches the counters
//     lifetime first, then the year, then the day, so two payments never
//     lock them in opposite orders. RecordChecked adds the two ends'
//     account controls to that SELECT and hands them to its caller's check
//     before deciding anything (escrow refuses a frozen payer or a
//     restricted payee there, ahead of the limits).
//   - A refusal is VERIFICATION_REQUIRED (the level may not pay at all) or
//     LIMIT_EXCEEDED, whose extensions name the limit (limit:
//     LIFETIME_BALANCE_PAYMENTS or ANNUAL_BALANCE_PAYMENTS), what remains
//     (remaining, a decimal string, with currency) and, when one exists, the
//     lowest level that would allow the payment (requiredLevel). A currency
//     the level does not configure is refused with LIMIT_EXCEEDED.
//   - The daily limit counts every outflow in one counter per wallet,
//     currency and calendar day (China Standard Time, period "D2026-12-02"):
//     payments authorized with a passkey and withdrawals alike. Withdrawals
//     count against the same daily counter, so the daily figure in
//     me.limits is all that left the balance that day, with a passkey or
//     without. A currency with no daily limit configured may not leave the
//     balance at all: LIMIT_EXCEEDED, remaining "0.00".
//   - The password-free small allowance (passwordfree.go; rules in
//     passwordfree_rules.go): off until the user turns it on; a per-payment
//     cap and a daily cap never above 1,000.00 CNY (PasswordFreeMaxDaily),
//     CNY only. RecordPasswordFree counts an outflow without a passkey in
//     a day counter (period "F2026-12-02") with one conditional upsert
//     (used_minor <= cap - amount), after Record, so concurrent outflows
//     never pass the cap together. Refusals are PASSKEY_REQUIRED with
//     limit PASSWORD_FREE_ALLOWANCE and a reason (ALLOWANCE_OFF,
//     ALLOWANCE_CURRENCY, ALLOWANCE_PER_PAYMENT, ALLOWANCE_DAILY, or RISK
//     when risk asked for a passkey).
//   - Lock order: Record touches the lifetime counter, then the year's,
//     then the day's, in one upsert (and RecordPasswordFree, after it, the
//     password-free day's; the level's bounded counter and the day's are
//     conditional: used_minor <= limit - amount), so two outflows of
//     one wallet never wait on each other in opposite orders. The chosen
//     limit (DailyLimit row) is only read in the money transaction; a
//     concurrent setDailyLimit applies to outflows that read it after it
//     commits.
//   - A daily refusal is LIMIT_EXCEEDED with limit DAILY_AUTHORIZED_PAYMENTS,
//     period DAY, limitAmount, used, remaining, currency, and maxDailyLimit
//     when raising the daily limit up to the maximum would allow the amount.
//     The level's limit is checked first: when both refuse, the level's
//     refusal is the one returned.
//   - Raising the daily limit needs a recent sign-in (the caller passes the
//     proof); lowering it never does, and both apply at once to what is
//     left of today. A maximum lowered below a user's choice binds.
//   - A TrustAdjuster (trust.Service, wired with SetTrust) may scale each
//     daily window by the user's trust score (see docs/design.md, Trust
//     score), read with the window's counter; whatever it returns, the window's maximum never rises above
//     the configured one and its limit never above that maximum (trust.go
//     enforces it). The level's limits are never adjusted.
//   - Check, Record, RecordChecked and RequireVerified never commit: they
//     run in the caller's transaction. Check and RequireVerified only
//     read; Record changes nothing when it refuses before its upsert, and when the
//     upsert meets a concurrent payment's count it may have raised the
//     other counters: the caller rolls back on any error (WithTx does).
package limits
