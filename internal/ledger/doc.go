// Package ledger is danbao's double-entry ledger.
//
// Every movement of money is one journal transaction (ent LedgerTransaction)
// of two or more postings whose signed amounts sum to zero. Amounts are
// credit-positive int64 minor units: what the platform owes a user (an
// AVAILABLE account, escrow, clearing) is positive; CUSTODY, the money held
// at the partner bank, is an asset and so carries a negative balance whose
// magnitude is the custody amount.
//
// Invariants, all proven by Verify at any time:
//   - every transaction has postings in one currency that sum to zero;
//   - postings and transactions are append-only (ent hooks refuse updates);
//   - each account's cached balance equals the sum of its postings, and is
//     updated in the same database transaction as the postings;
//   - no account but CUSTODY is ever negative: debits are conditional
//     updates (balance >= amount) applied in account-ID order, so
//     concurrent debits cannot overdraw on SQLite or PostgreSQL and cannot
//     deadlock each other;
//   - transactions are numbered 1, 2, 3... in commit order and hash-chained:
//     each stores SHA-256(previous hash || its canonical content);
//   - customer funds (AVAILABLE + ESCROW + TOPUP_CLEARING +
//     WITHDRAWAL_CLEARING) plus the platform's own money held beside them
//     (FEES, PROTECTION_FUND) equal custody, per currency: customer funds
//     are held in full.
//
// Lock order inside one database transaction: accounts (sorted by ID) as
// Post applies their legs; then, at the flush just before the commit
// (dbtx.Deferred), custody's account, the "ledger" counter row, then the
// "events" counter row (package events). The hot rows are thus held from
// the flush to the commit only.
package ledger
