package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/counter"
	"danbao/ent/ledgertransaction"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/money"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"
)

// MaxClockLead is how far ahead of the PostgreSQL server's clock an
// instance's clock may stamp journal entries (see journal.Flush).
const MaxClockLead = time.Minute

// CounterID is the counter row that numbers journal transactions and holds
// the head of the hash chain.
const CounterID = "ledger"

// Service posts journal transactions and answers questions about them.
type Service struct {
	client *ent.Client
	now    func() time.Time
	refs   refCache
}

// refCache remembers committed accounts by key: an account's ID, key,
// kind, currency and owner never change and accounts are never deleted,
// so every later transaction (on this instance or another) can use them
// without a lookup. Balances are never cached. Bounded: past maxRefs
// entries new ones are not remembered.
type refCache struct {
	m sync.Map // key -> ent.Account (balance zero)
	n atomic.Int64
}

const maxRefs = 100_000

func (c *refCache) get(key string) (*ent.Account, bool) {
	v, ok := c.m.Load(key)
	if !ok {
		return nil, false
	}
	a := v.(ent.Account)
	return &a, true
}

// remember keeps a's reference once tx commits (a rolled-back creation
// must not be remembered).
func (c *refCache) remember(tx *ent.Tx, a *ent.Account) {
	ref := ent.Account{ID: a.ID, Key: a.Key, Kind: a.Kind, Currency: a.Currency, OwnerID: a.OwnerID,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil && c.n.Load() < maxRefs {
				if _, loaded := c.m.LoadOrStore(ref.Key, ref); !loaded {
					c.n.Add(1)
				}
			}
			return err
		})
	})
}

// New returns a ledger Service.
func New(client *ent.Client) *Service {
	return &Service{client: client, now: time.Now}
}

// Init creates the ledger's counter row if it does not exist. Call once at
// start-up; it is safe with several instances.
func (s *Service) Init(ctx context.Context) error {
	return s.client.Counter.Create().SetID(CounterID).SetValue(0).SetHash([]byte{}).
		OnConflictColumns(counter.FieldID).Ignore().Exec(ctx)
}

// Entry is a journal transaction to post.
type Entry struct {
	Kind     string // TOPUP, WITHDRAWAL_HOLD, WITHDRAWAL_PAYOUT, WITHDRAWAL_RETURN, TRANSFER, ...
	Currency money.Currency
	RefID    pulid.ID // the top-up, withdrawal or payment it belongs to
	Memo     string
	Evidence map[string]any
	Legs     []Leg
	// ID is the transaction's ID when the caller made it beforehand
	// (pulid.New(pulid.PrefixLedgerTransaction)) to store it in an update
	// it sends anyway; a new one when empty.
	ID pulid.ID
}

// Posted is a committed-to-be journal transaction with its postings.
type Posted struct {
	Transaction *ent.LedgerTransaction
	Postings    []*ent.Posting
}

// Post writes e in tx: it checks the legs balance, applies the legs on
// users' accounts to their cached balances in account-ID order (debits
// conditionally, so no user account goes below zero), and defers to the
// commit what needs the global "ledger" counter row (the sequence number,
// the hash chain, the journal and posting rows) and the legs on the
// platform's accounts (Deferrable: custody, clearing, escrow, fees; rows as
// hot as the counter). So the counter's lock, and
// the platform accounts', are held from the flush to the commit only (see
// dbtx.Deferred). The returned Posted carries the transaction's ID at
// once; its sequence number, its time (the flush's: see Flush), hashes and
// the platform accounts' balance after are filled in when tx commits. Errors: INSUFFICIENT_FUNDS when a user account would
// go below zero (extensions: available, currency); any other error is
// internal (a broken rule is a bug, never user input). Balances may
// already have been updated when Post fails: the caller must roll the
// transaction back, as dbtx.WithTx does when its function returns an error.
func (s *Service) Post(ctx context.Context, tx *ent.Tx, e Entry) (*Posted, error) {
	legs := append([]Leg(nil), e.Legs...)
	if err := CheckBalanced(e.Currency, legs); err != nil {
		return nil, err
	}
	SortLegs(legs)
	now := s.now().UTC().Truncate(time.Microsecond)
	id := e.ID
	if id == "" {
		id = pulid.New(pulid.PrefixLedgerTransaction)
	}
	ltx := &ent.LedgerTransaction{ID: id, Kind: e.Kind, Currency: string(e.Currency),
		RefID: e.RefID, Memo: e.Memo, Evidence: e.Evidence, CreatedAt: now}
	postings := make([]*ent.Posting, len(legs))
	for i, l := range legs {
		postings[i] = &ent.Posting{ID: pulid.New(pulid.PrefixPosting), TransactionID: ltx.ID, AccountID: pulid.ID(l.AccountID),
			Kind: e.Kind, Amount: l.Amount, Currency: string(e.Currency), Day: now.Format(time.DateOnly), CreatedAt: now}
		if Deferrable(l.Kind) {
			continue // applied at the flush
		}
		balance, err := apply(ctx, tx, l)
		if err != nil {
			if apperr.Is(err, apperr.InsufficientFunds) {
				return nil, s.insufficient(ctx, tx, l)
			}
			return nil, err
		}
		postings[i].BalanceAfter = balance
	}
	q := dbtx.Deferred(tx, flushKey, func() *journal { return &journal{now: s.now} })
	q.entries = append(q.entries, pendingEntry{tx: ltx, postings: postings, legs: legs})
	return &Posted{Transaction: ltx, Postings: postings}, nil
}

// flushKey orders the ledger's flush before the events' (the lock order:
// accounts, the ledger counter, the events counter).
const flushKey = "1 ledger"

// apply adds leg l to its account's cached balance and returns the new
// balance: a debit only if the balance covers it (custody excepted), a
// credit only if it cannot overflow. A refused debit is INSUFFICIENT_FUNDS
// (without extensions: Post adds them).
func apply(ctx context.Context, tx *ent.Tx, l Leg) (int64, error) {
	balance, err := addToBalance(ctx, tx, l.AccountID, l.Kind, l.Amount, time.Now().UTC())
	if errors.Is(err, sql.ErrNoRows) {
		if l.Amount < 0 && !MayGoNegative(l.Kind) {
			return 0, apperr.New(apperr.InsufficientFunds, "insufficient funds")
		}
		return 0, overflow()
	}
	return balance, err
}

// overflow is the refusal of a movement that would take a balance past
// what an int64 of minor units holds (about 92 quadrillion yuan): never a
// real payment, but an operator funding the protection fund thousands of
// times with the largest amount reaches it.
func overflow() error {
	return apperr.New(apperr.InvalidInput, "this amount would take an account's balance past what it can hold").WithField("amount")
}

// addToBalance adds amount to an account's cached balance with one
// conditional UPDATE ... RETURNING and returns the new balance, or
// sql.ErrNoRows when the guard refuses it: a debit the balance does not
// cover (custody, which may go negative: one that would underflow), a
// credit that would overflow. (ent's UpdateOne with a predicate must not be
// used here: when no row matches it re-runs the predicate in a new
// statement, which on PostgreSQL's READ COMMITTED can see a concurrent
// credit and report success for a debit that was never applied.) The
// balance returned is the one this statement wrote: the row (PostgreSQL)
// or the database (SQLite) stays locked by this transaction.
func addToBalance(ctx context.Context, tx *ent.Tx, id, kind string, amount int64, now time.Time) (int64, error) {
	query, args := balanceUpdate(id, kind, amount, now, 0)
	var balance int64
	err := dbtx.QueryRow(ctx, tx, []any{&balance}, query, args...)
	return balance, err
}

// balanceUpdate is addToBalance's statement and its four arguments, which
// it numbers from $base+1.
func balanceUpdate(id, kind string, amount int64, now time.Time, base int) (string, []any) {
	p := func(i int) string { return "$" + strconv.Itoa(base+i) }
	guard, bound := "balance <= "+p(4), int64(math.MaxInt64)-amount // a credit must not overflow
	switch {
	case amount < 0 && MayGoNegative(kind): // custody: must not underflow
		guard, bound = "balance >= "+p(4), math.MinInt64-amount
	case amount < 0: // every other account: must cover the debit
		guard, bound = "balance >= "+p(4), -amount
	}
	return "UPDATE accounts SET balance = balance + " + p(1) + ", updated_at = " + p(2) + " WHERE id = " + p(3) +
			" AND " + guard + " RETURNING balance",
		[]any{amount, now, id, bound}
}

// journal is what the transaction's Posts deferred to its commit.
type journal struct {
	entries []pendingEntry
	now     func() time.Time
}

type pendingEntry struct {
	tx       *ent.LedgerTransaction
	postings []*ent.Posting // in legs' order
	legs     []Leg
}

// content is what the chain hashes of e (its seq and time as they are set
// on e.tx so far).
func (e pendingEntry) content() Content {
	t := e.tx
	c := Content{Seq: t.Seq, Kind: t.Kind, Currency: t.Currency, RefID: string(t.RefID),
		Memo: t.Memo, CreatedAt: t.CreatedAt, Evidence: t.Evidence}
	for _, l := range e.legs {
		c.Postings = append(c.Postings, PostingContent{AccountID: l.AccountID, Amount: l.Amount})
	}
	return c
}

// Flush applies the deferred platform legs (in account-ID order, then in
// posting order; a debit only if the account covers it, custody excepted), takes the next sequence numbers from the counter row
// (locking it until the commit), hash-chains the entries and writes their
// rows; then it fills in the Posted values Post returned. On PostgreSQL a
// transaction with one entry does it all in one statement (flushOne).
func (q *journal) Flush(ctx context.Context, tx *ent.Tx) error {
	// Platform legs are applied as one update per account (its total),
	// in account-ID order; each posting's balance after is then the
	// account's final balance less the legs that follow it.
	type ref struct{ entry, leg int }
	var accounts []string
	legsOf := map[string][]ref{}
	totals := map[string]int64{}
	kinds := map[string]string{}
	for i, e := range q.entries {
		for j, l := range e.legs {
			if !Deferrable(l.Kind) {
				continue
			}
			if _, seen := legsOf[l.AccountID]; !seen {
				accounts = append(accounts, l.AccountID)
			}
			legsOf[l.AccountID] = append(legsOf[l.AccountID], ref{i, j})
			totals[l.AccountID] += l.Amount
			kinds[l.AccountID] = l.Kind
		}
	}
	sort.Strings(accounts)
	refused := func(id string) error {
		if totals[id] > 0 || MayGoNegative(kinds[id]) {
			return overflow()
		}
		return fmt.Errorf("ledger: platform account %s (%s) would go negative", id, kinds[id])
	}
	settle := func(id string, balance int64) {
		refs := legsOf[id]
		for k := len(refs) - 1; k >= 0; k-- {
			r := refs[k]
			q.entries[r.entry].postings[r.leg].BalanceAfter = balance
			balance -= q.entries[r.entry].legs[r.leg].Amount
		}
	}
	o, ok := dbtx.OriginOf(tx)
	postgres := ok && o.Dialect == dialect.Postgres
	// One statement each from here to the commit: these locks are the
	// hottest in the database. (ent's UpdateOne would read the row back in
	// a second round trip; both engines support UPDATE ... RETURNING.) On
	// PostgreSQL the last account's update goes with the counter's, below.
	now := time.Now().UTC()
	separate := accounts
	if postgres && len(accounts) > 0 {
		separate = accounts[:len(accounts)-1]
	}
	for _, id := range separate {
		balance, err := addToBalance(ctx, tx, id, kinds[id], totals[id], now)
		if errors.Is(err, sql.ErrNoRows) {
			return refused(id)
		}
		if err != nil {
			return err
		}
		settle(id, balance)
	}
	if postgres && len(q.entries) == 1 {
		last := ""
		if len(accounts) > 0 {
			last = accounts[len(accounts)-1]
		}
		return q.flushOne(ctx, tx, last, kinds[last], totals[last], now, settle, refused)
	}
	n := int64(len(q.entries))
	var (
		last, stampedUS int64
		prev            []byte
	)
	// The sequence numbers and the stamp come from one statement under the
	// counter's lock: the stamp is the later of this clock and the last
	// flush's, so stamps never decrease as seq grows, whatever the clocks
	// of several instances (ledger.History turns time filters into seq
	// bounds on that). The entries' Post-time stamps are replaced. On
	// PostgreSQL, where instances on several machines share the counter,
	// an instance's clock counts for at most MaxClockLead ahead of the
	// database server's: one clock run ahead would otherwise carry every
	// later stamp, of every instance, to its time.
	nowUS := q.now().UTC().UnixMicro()
	stampSQL := `UPDATE counters SET value = value + $1, stamped_us = CASE WHEN stamped_us > $3 THEN stamped_us ELSE $3 END
		WHERE id = $2 RETURNING value, hash, stamped_us`
	args := []any{n, CounterID, nowUS}
	dest := []any{&last, &prev, &stampedUS}
	var lastAccount string
	var lastBalance int64
	if postgres {
		stampSQL = `UPDATE counters SET value = value + $1,
		stamped_us = GREATEST(stamped_us, LEAST($3, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint + $4))
		WHERE id = $2 RETURNING value, hash, stamped_us`
		args = append(args, MaxClockLead.Microseconds())
		if len(accounts) > 0 {
			// The last platform account and the counter in one round trip:
			// the counter's UPDATE joins the account's, so it runs only
			// once the account's row is locked and its guard passed
			// (accounts before the counter, as every flush takes them),
			// and returns no row when the guard refuses.
			lastAccount = accounts[len(accounts)-1]
			accountSQL, accountArgs := balanceUpdate(lastAccount, kinds[lastAccount], totals[lastAccount], now, len(args))
			stampSQL = `WITH a AS (` + accountSQL + `)
		UPDATE counters SET value = value + $1,
		stamped_us = GREATEST(stamped_us, LEAST($3, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint + $4))
		FROM a WHERE counters.id = $2 RETURNING counters.value, counters.hash, counters.stamped_us, a.balance`
			args = append(args, accountArgs...)
			dest = append(dest, &lastBalance)
		}
	}
	if err := dbtx.QueryRow(ctx, tx, dest, stampSQL, args...); err != nil {
		if lastAccount != "" && errors.Is(err, sql.ErrNoRows) {
			return refused(lastAccount)
		}
		return fmt.Errorf("ledger: next seq: %w", err)
	}
	if lastAccount != "" {
		settle(lastAccount, lastBalance)
	}
	prev = nonNil(prev)
	stamp := time.UnixMicro(stampedUS).UTC()
	for i, e := range q.entries {
		t := e.tx
		t.Seq = last - n + int64(i) + 1
		t.CreatedAt = stamp
		for _, p := range e.postings {
			p.CreatedAt, p.Day = stamp, stamp.Format(time.DateOnly)
		}
		t.PrevHash, t.Hash = prev, Hash(prev, e.content())
		prev = t.Hash
		for _, p := range e.postings {
			p.Seq = t.Seq
		}
	}
	if postgres {
		return q.writePostgres(ctx, tx, prev)
	}
	if ok {
		return q.writeSQLite(ctx, tx, prev)
	}
	txs := make([]*ent.LedgerTransactionCreate, len(q.entries))
	var posts []*ent.PostingCreate
	for i, e := range q.entries {
		t := e.tx
		txs[i] = tx.LedgerTransaction.Create().SetID(t.ID).
			SetSeq(t.Seq).SetKind(t.Kind).SetCurrency(t.Currency).
			SetRefID(t.RefID).SetMemo(t.Memo).SetEvidence(t.Evidence).
			SetPrevHash(t.PrevHash).SetHash(t.Hash).SetCreatedAt(t.CreatedAt)
		for _, p := range e.postings {
			posts = append(posts, tx.Posting.Create().SetID(p.ID).
				SetTransactionID(p.TransactionID).SetAccountID(p.AccountID).
				SetSeq(p.Seq).SetKind(p.Kind).SetAmount(p.Amount).
				SetCurrency(p.Currency).SetBalanceAfter(p.BalanceAfter).
				SetDay(p.Day).SetCreatedAt(p.CreatedAt))
		}
	}
	for c := range slices.Chunk(txs, dbtx.BulkRows) {
		if err := tx.LedgerTransaction.CreateBulk(c...).Exec(ctx); err != nil {
			return err
		}
	}
	for c := range slices.Chunk(posts, dbtx.BulkRows) {
		if err := tx.Posting.CreateBulk(c...).Exec(ctx); err != nil {
			return err
		}
	}
	// A bulk update: UpdateOneID would read the row back.
	return tx.Counter.Update().Where(counter.ID(CounterID)).SetHash(prev).Exec(ctx)
}

// flushOne is the PostgreSQL flush of a transaction's one journal
// transaction (the usual case) in one statement, sent with the COMMIT
// (dbtx.QueryRowAtCommit): the last platform account's update (account
// lastID, when there is one), the counter's next seq and stamp, the chain's
// hash computed by PostgreSQL (sha256 over Hash's encoding: the parts
// that do not depend on the seq and the time come from HashParts), the
// journal row, its postings and the events (events.JoinAfter). So the
// counter is locked by the statement that commits, and no round trip to
// this process is made while it is held. The locks are taken in the
// flush's order: the account (an InitPlan of the counter's read), the
// ledger counter, then the events counter (its update waits for the
// chain's row). A refused account (its guard: covering a debit, no
// overflow) leaves its CTE empty, and the statement fails on that (see
// the final SELECT).
func (q *journal) flushOne(ctx context.Context, tx *ent.Tx, lastID, lastKind string, lastTotal int64, now time.Time,
	settle func(id string, balance int64), refused func(id string) error) error {
	e := q.entries[0]
	t := e.tx
	evidence, err := checked(t)
	if err != nil {
		return err
	}
	head, tail := HashParts(e.content())
	n := len(e.postings)
	pIDs, pAccounts, pKinds := make([]string, n), make([]string, n), make([]string, n)
	pAmounts, pBalances := make([]int64, n), make([]int64, n)
	for i, p := range e.postings {
		if err := errors.Join(posting.KindValidator(p.Kind), posting.CurrencyValidator(p.Currency)); err != nil {
			return fmt.Errorf("ledger: posting %s: %w", p.ID, err)
		}
		pIDs[i], pAccounts[i], pKinds[i], pAmounts[i], pBalances[i] = string(p.ID), string(p.AccountID), p.Kind, p.Amount, p.BalanceAfter
	}
	args := []any{CounterID, q.now().UTC().UnixMicro(), MaxClockLead.Microseconds(), head, tail,
		string(t.ID), t.Kind, t.Currency, string(t.RefID), t.Memo, evidence,
		pIDs, pAccounts, pKinds, pAmounts, pBalances, lastID}
	var with, after, balance string
	if lastID != "" {
		accountSQL, accountArgs := balanceUpdate(lastID, lastKind, lastTotal, now, len(args))
		args = append(args, accountArgs...)
		with = "a AS (" + accountSQL + "),\n"
		after = " AND (SELECT count(*) FROM a) >= 0" // the account first
		// Without a row from a the statement fails on the guard in its
		// SELECT, whichever part PostgreSQL runs first: not on a NULL here.
		balance = "COALESCE((SELECT balance FROM a), 0)"
	} else {
		balance = "NULL::bigint"
	}
	query := `WITH ` + with + `o AS MATERIALIZED (SELECT value, hash, stamped_us FROM counters WHERE id = $1` + after + ` FOR NO KEY UPDATE),
k AS MATERIALIZED (SELECT s.seq, s.prev, s.stamp, sha256(s.prev || int8send(s.seq) || $4::bytea || int8send(s.stamp) || $5::bytea) AS hash,
	timestamptz 'epoch' + s.stamp * interval '1 microsecond' AS at
	FROM (SELECT o.value + 1 AS seq, COALESCE(o.hash, ''::bytea) AS prev,
		GREATEST(o.stamped_us, LEAST($2, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint + $3)) AS stamp FROM o) s),
c AS (UPDATE counters SET value = k.seq, stamped_us = k.stamp, hash = k.hash FROM k WHERE counters.id = $1),
t AS (INSERT INTO ledger_transactions (id, seq, kind, currency, ref_id, memo, evidence, prev_hash, hash, created_at)
	SELECT $6, k.seq, $7, $8, $9, $10, $11::jsonb, k.prev, k.hash, k.at FROM k),
p AS (INSERT INTO postings (id, transaction_id, account_id, seq, kind, amount, currency, balance_after, day, created_at)
	SELECT u.id, $6, u.account_id, k.seq, u.kind, u.amount, $8,
		CASE WHEN u.account_id = $17 THEN ` + balance + ` ELSE u.balance_after END,
		to_char(k.at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), k.at
	FROM k, unnest($12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[]) AS u(id, account_id, kind, amount, balance_after))`
	var seq, stampUS, accountBalance, evLast int64
	var prev, hash []byte
	dest := []any{&seq, &prev, &hash, &stampUS}
	// One row always, or an error: the statement may go with the COMMIT,
	// which PostgreSQL would run after a statement that returned none. No
	// counter row (k empty): a division by zero. No row from a (its guard
	// refused): the logarithm of zero, SQLSTATE 2201E, which only this
	// refusal raises.
	sel := `SELECT COALESCE(k.seq, 0) / (SELECT count(*) FROM k), k.prev, k.hash, k.stamp`
	if lastID != "" {
		sel += `, COALESCE((SELECT balance FROM a), 0) + 0 * ln((SELECT count(*) FROM a))::bigint`
		dest = append(dest, &accountBalance)
	}
	ev, joined, err := events.JoinAfter(tx, len(args), "k")
	if err != nil {
		return err
	}
	if joined {
		query += ",\n" + ev.CTEs
		args = append(args, ev.Args...)
		sel += ", " + ev.Value
		dest = append(dest, &evLast)
	}
	return dbtx.QueryRowAtCommit(ctx, tx, dest, func(err error) error {
		var pgErr *pgconn.PgError
		if err != nil && lastID != "" && errors.As(err, &pgErr) && pgErr.Code == "2201E" {
			return refused(lastID)
		}
		if err != nil {
			return fmt.Errorf("ledger: journal: %w", err)
		}
		stamp := time.UnixMicro(stampUS).UTC()
		t.Seq, t.CreatedAt, t.PrevHash, t.Hash = seq, stamp, prev, hash
		for _, p := range e.postings {
			p.Seq, p.CreatedAt, p.Day = seq, stamp, stamp.Format(time.DateOnly)
		}
		if lastID != "" {
			settle(lastID, accountBalance)
		}
		if joined {
			ev.Done(evLast)
		}
		return nil
	}, query+"\n"+sel+" FROM (VALUES (0)) AS one LEFT JOIN k ON true", args...)
}

// checked runs ent's validators on a journal row written without ent and
// returns its evidence as JSON.
func checked(t *ent.LedgerTransaction) (string, error) {
	if err := errors.Join(ledgertransaction.IDValidator(string(t.ID)), ledgertransaction.KindValidator(t.Kind),
		ledgertransaction.CurrencyValidator(t.Currency), ledgertransaction.MemoValidator(t.Memo)); err != nil {
		return "", fmt.Errorf("ledger: journal entry %s: %w", t.ID, err)
	}
	ev, err := json.Marshal(t.Evidence)
	if err != nil {
		return "", fmt.Errorf("ledger: evidence of %s: %w", t.ID, err)
	}
	return string(ev), nil
}

// checkedPosting runs ent's validators of a posting written without ent.
func checkedPosting(p *ent.Posting) error {
	if err := errors.Join(posting.IDValidator(string(p.ID)), posting.KindValidator(p.Kind),
		posting.CurrencyValidator(p.Currency), posting.DayValidator(p.Day)); err != nil {
		return fmt.Errorf("ledger: posting %s: %w", p.ID, err)
	}
	return nil
}

// insertPostgres writes the journal rows, their postings and the chain's
// new head in one statement (PostgreSQL runs the data-modifying WITH
// clauses together; the postings' foreign keys are checked at its end,
// when the journal rows exist). The rows bypass ent, so its validators are
// called here. The transaction's events, when there are any, go in the
// same statement (events.Join): the ledger counter is already locked, so
// the events counter is still taken after it, and one round trip less is
// made while both are held.
const insertPostgres = `WITH t AS (INSERT INTO ledger_transactions (id, seq, kind, currency, ref_id, memo, evidence, prev_hash, hash, created_at)
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bytea[], $9::bytea[], $10::timestamptz[])),
p AS (INSERT INTO postings (id, transaction_id, account_id, seq, kind, amount, currency, balance_after, day, created_at)
	SELECT * FROM unnest($11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[], $16::bigint[], $17::text[], $18::bigint[], $19::text[], $20::timestamptz[]))`

// insertPostgresArgs is how many arguments insertPostgres and its head
// update take.
const insertPostgresArgs = 22

func (q *journal) writePostgres(ctx context.Context, tx *ent.Tx, head []byte) error {
	n := len(q.entries)
	var (
		ids, kinds, currencies, refs, memos, evidence = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                                          = make([]int64, n)
		prevs, hashes                                 = make([][]byte, n), make([][]byte, n)
		times                                         = make([]time.Time, n)
		pIDs, pTxs, pAccounts, pKinds, pCurrencies    []string
		pDays                                         []string
		pSeqs, pAmounts, pBalances                    []int64
		pTimes                                        []time.Time
	)
	for i, e := range q.entries {
		t := e.tx
		ev, err := checked(t)
		if err != nil {
			return err
		}
		ids[i], seqs[i], kinds[i], currencies[i], refs[i], memos[i], evidence[i] =
			string(t.ID), t.Seq, t.Kind, t.Currency, string(t.RefID), t.Memo, ev
		prevs[i], hashes[i], times[i] = t.PrevHash, t.Hash, t.CreatedAt
		for _, p := range e.postings {
			if err := checkedPosting(p); err != nil {
				return err
			}
			pIDs, pTxs, pAccounts = append(pIDs, string(p.ID)), append(pTxs, string(p.TransactionID)), append(pAccounts, string(p.AccountID))
			pSeqs, pKinds, pAmounts = append(pSeqs, p.Seq), append(pKinds, p.Kind), append(pAmounts, p.Amount)
			pCurrencies, pBalances, pDays, pTimes = append(pCurrencies, p.Currency), append(pBalances, p.BalanceAfter), append(pDays, p.Day), append(pTimes, p.CreatedAt)
		}
	}
	args := []any{ids, seqs, kinds, currencies, refs, memos, evidence, prevs, hashes, times,
		pIDs, pTxs, pAccounts, pSeqs, pKinds, pAmounts, pCurrencies, pBalances, pDays, pTimes,
		head, CounterID}
	ev, joined, err := events.Join(tx, insertPostgresArgs)
	if err != nil {
		return err
	}
	// The statement goes with the COMMIT when nothing follows it
	// (dbtx.QueryRowAtCommit): the counters' locks are then released
	// without a round trip to this process.
	var last int64
	if !joined {
		return dbtx.QueryRowAtCommit(ctx, tx, []any{&last}, func(err error) error {
			if err != nil {
				return fmt.Errorf("ledger: journal: %w", err)
			}
			return nil
		}, insertPostgres+"\nUPDATE counters SET hash = $21 WHERE id = $22 RETURNING value", args...)
	}
	return dbtx.QueryRowAtCommit(ctx, tx, []any{&last}, func(err error) error {
		if err != nil {
			return fmt.Errorf("ledger: journal and events: %w", err)
		}
		ev.Done(last)
		return nil
	}, insertPostgres+",\nh AS (UPDATE counters SET hash = $21 WHERE id = $22),\n"+ev.CTEs+"\nSELECT "+ev.Value,
		append(args, ev.Args...)...)
}

// journalColumns and postingColumns are the columns writeSQLite writes,
// in its arguments' order.
var (
	journalColumns = []string{"id", "seq", "kind", "currency", "ref_id", "memo", "evidence", "prev_hash", "hash", "created_at"}
	postingColumns = []string{"id", "transaction_id", "account_id", "seq", "kind", "amount", "currency", "balance_after", "day", "created_at"}
)

// writeSQLite writes the journal rows, their postings and the chain's new
// head (SQLite) with statements of its own text: ent's bulk creates cost
// the one writer's turn about as much again as SQLite's own work. The rows
// bypass ent, so its validators are called here, and the values are
// encoded as ent encodes them (the evidence as JSON bytes).
func (q *journal) writeSQLite(ctx context.Context, tx *ent.Tx, head []byte) error {
	for chunk := range slices.Chunk(q.entries, dbtx.BulkRows) {
		args := make([]any, 0, len(chunk)*len(journalColumns))
		for _, e := range chunk {
			t := e.tx
			ev, err := checked(t)
			if err != nil {
				return err
			}
			args = append(args, string(t.ID), t.Seq, t.Kind, t.Currency, string(t.RefID), t.Memo, []byte(ev), t.PrevHash, t.Hash, t.CreatedAt)
		}
		if _, err := tx.ExecContext(ctx, dbtx.Insert("ledger_transactions", journalColumns, len(chunk)), args...); err != nil {
			return fmt.Errorf("ledger: journal: %w", err)
		}
	}
	var posts []*ent.Posting
	for _, e := range q.entries {
		posts = append(posts, e.postings...)
	}
	for chunk := range slices.Chunk(posts, dbtx.BulkRows) {
		args := make([]any, 0, len(chunk)*len(postingColumns))
		for _, p := range chunk {
			if err := checkedPosting(p); err != nil {
				return err
			}
			args = append(args, string(p.ID), string(p.TransactionID), string(p.AccountID), p.Seq, p.Kind, p.Amount, p.Currency, p.BalanceAfter, p.Day, p.CreatedAt)
		}
		if _, err := tx.ExecContext(ctx, dbtx.Insert("postings", postingColumns, len(chunk)), args...); err != nil {
			return fmt.Errorf("ledger: postings: %w", err)
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE counters SET hash = ? WHERE id = ?`, head, CounterID)
	return err
}

// Lock takes the row locks of the accounts ids (duplicates allowed) for the
// rest of tx, in account-ID order: the order Post updates accounts in. A
// transaction that posts more than once must lock every user account it
// will post to before its first Post (the platform's accounts are taken at
// the flush, after every user account: pass only users' accounts, or their
// locks are held for the whole transaction): a second Post that reaches an account not
// yet locked, while a concurrent transaction holds it and waits for one
// this transaction's first Post took, is a deadlock (PostgreSQL 40P01).
// (The ledger counter is no longer part of such a cycle: it is taken at the
// flush before the commit, after every account.) On PostgreSQL each row is
// locked FOR NO KEY UPDATE (what Post's UPDATE takes, so Lock blocks no
// one Post would not); on SQLite the writing transaction holds the
// database lock and the SELECTs take none.
func (s *Service) Lock(ctx context.Context, tx *ent.Tx, ids ...pulid.ID) error {
	sorted := append([]pulid.ID(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i, id := range sorted {
		if i > 0 && id == sorted[i-1] {
			continue
		}
		// One statement per row, in Go's order, as SortLegs orders Post's
		// updates: an ORDER BY in SQL would follow the column's collation.
		_, err := tx.Account.Query().Where(account.ID(id)).Modify(func(sel *entsql.Selector) {
			if sel.Dialect() == dialect.Postgres {
				sel.For(entsql.LockNoKeyUpdate)
			}
		}).Select(account.FieldID).Strings(ctx)
		if err != nil {
			return fmt.Errorf("ledger: lock account %s: %w", id, err)
		}
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// insufficient builds the INSUFFICIENT_FUNDS error for a refused debit.
func (s *Service) insufficient(ctx context.Context, tx *ent.Tx, l Leg) error {
	a, err := tx.Account.Get(ctx, pulid.ID(l.AccountID))
	if err != nil {
		return err
	}
	switch a.Kind {
	case account.KindAVAILABLE:
	case account.KindPROTECTION_FUND: // compensations racing for what is left in the fund
		return apperr.New(apperr.InsufficientFunds, "the protection fund holds %s %s: fund it first",
			money.FormatMinor(a.Balance, l.Currency), l.Currency).
			With("account", "PROTECTION_FUND").With("available", money.FormatMinor(a.Balance, l.Currency))
	default:
		return fmt.Errorf("ledger: platform account %s (%s) would go negative", a.ID, a.Kind)
	}
	return apperr.New(apperr.InsufficientFunds, "insufficient funds: %s available, %s needed",
		money.FormatMinor(a.Balance, l.Currency), money.FormatMinor(-l.Amount, l.Currency)).
		With("available", money.FormatMinor(a.Balance, l.Currency)).
		With("currency", string(l.Currency))
}

// UserAccount returns the user's AVAILABLE account in currency c, creating
// it (with a zero balance) if it does not exist yet. The account may come
// from the reference cache: its ID, key, kind, currency and owner are
// right, its Balance is not read (zero). Read balances with a query.
func (s *Service) UserAccount(ctx context.Context, tx *ent.Tx, userID pulid.ID, c money.Currency) (*ent.Account, error) {
	return s.ensure(ctx, tx, UserAccountKey(string(userID), c), account.KindAVAILABLE, c, userID, true)
}

// PlatformAccount returns the platform account of a kind in currency c,
// creating it if needed. Like UserAccount it may come from the reference
// cache, with Balance zero, except the protection fund, which is always
// read (its balance decides compensations: see requireFund).
func (s *Service) PlatformAccount(ctx context.Context, tx *ent.Tx, kind string, c money.Currency) (*ent.Account, error) {
	return s.ensure(ctx, tx, PlatformAccountKey(kind, c), account.Kind(kind), c, "", kind != KindProtectionFund)
}

func (s *Service) ensure(ctx context.Context, tx *ent.Tx, key string, kind account.Kind, c money.Currency, owner pulid.ID, cached bool) (*ent.Account, error) {
	if !c.Supported() {
		return nil, apperr.Invalid("currency", "unsupported currency")
	}
	if cached {
		if a, ok := s.refs.get(key); ok {
			return a, nil
		}
	}
	a, err := tx.Account.Query().Where(account.Key(key)).Only(ctx)
	if err == nil {
		s.refs.remember(tx, a)
		return a, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	create := tx.Account.Create().SetKey(key).SetKind(kind).SetCurrency(string(c))
	if owner != "" {
		create.SetOwnerID(owner)
	}
	// DO NOTHING, not ent's Ignore: on PostgreSQL Ignore is "DO UPDATE SET
	// key = key", which locks the existing row when another transaction
	// created the account first. That lock, taken here before Post locks
	// its accounts in ID order, closed deadlock cycles with concurrent
	// Posts (40P01 between a debit's and a credit's UPDATE). DO NOTHING
	// only waits for the creating transaction to end and locks nothing.
	if err := create.OnConflict(entsql.ConflictColumns(account.FieldKey), entsql.DoNothing()).Exec(ctx); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if a, err = tx.Account.Query().Where(account.Key(key)).Only(ctx); err == nil {
		s.refs.remember(tx, a)
	}
	return a, err
}

// On returns a leg of amount on account a.
func On(a *ent.Account, amount int64) Leg {
	return Leg{AccountID: string(a.ID), Kind: string(a.Kind), Currency: money.Currency(a.Currency), Amount: amount}
}

// TransferInput moves money between two users' AVAILABLE accounts.
type TransferInput struct {
	From, To pulid.ID
	Amount   int64
	Currency money.Currency
	Memo     string
}

// Transfer moves money from one user to another in its own transaction,
// with a balance.changed event for each. It is not exposed through the API
// yet; the transfer mutation that exposes it must add an idempotency key,
// as every money-moving mutation does. Errors: INVALID_INPUT (non-positive
// amount, same user), INSUFFICIENT_FUNDS.
func (s *Service) Transfer(ctx context.Context, in TransferInput) (*Posted, error) {
	if in.Amount <= 0 {
		return nil, apperr.Invalid("amount", "amount must be greater than zero")
	}
	if in.From == in.To {
		return nil, apperr.Invalid("to", "cannot transfer to the same account")
	}
	var out *Posted
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		from, err := s.UserAccount(ctx, tx, in.From, in.Currency)
		if err != nil {
			return err
		}
		to, err := s.UserAccount(ctx, tx, in.To, in.Currency)
		if err != nil {
			return err
		}
		out, err = s.Post(ctx, tx, Entry{Kind: "TRANSFER", Currency: in.Currency, Memo: in.Memo,
			Legs: []Leg{On(from, -in.Amount), On(to, in.Amount)}})
		if err != nil {
			return err
		}
		for _, side := range []struct {
			user  pulid.ID
			delta int64
		}{{in.From, -in.Amount}, {in.To, in.Amount}} {
			_, err := events.Append(ctx, tx, events.Event{Type: "balance.changed", SubjectID: side.user, UserID: side.user,
				Payload: map[string]any{"currency": string(in.Currency), "delta": money.FormatMinor(side.delta, in.Currency),
					"cause": string(out.Transaction.ID)}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// UserAccounts returns the user's AVAILABLE accounts, by currency.
func (s *Service) UserAccounts(ctx context.Context, userID pulid.ID) ([]*ent.Account, error) {
	return s.client.Account.Query().
		Where(account.OwnerID(userID), account.KindEQ(account.KindAVAILABLE)).
		Order(ent.Asc(account.FieldCurrency)).All(ctx)
}
