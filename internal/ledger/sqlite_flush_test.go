package ledger_test

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// sqliteTime is the text format of times the SQLite driver writes
// (db.SQLiteDSN's _time_format=sqlite).
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

// TestSQLiteFlushWritesAsEnt (SQLite): the flush of a WithTx transaction
// writes its journal row, postings and events with statements of its own,
// that of a transaction begun by other means through ent. Both rows of
// each table have the same storage classes column by column (the JSON
// evidence and payload as blobs, the times as text of one format) and the
// same values where they should; every stored value, times included (as
// the driver's text), is the one the flush computed; and the ledger
// verifies.
func TestSQLiteFlushWritesAsEnt(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	c, l := e.App.DB.Client, e.App.Ledger
	u := users(t, e, 1)[0]
	fund(t, e, u, 10_000)
	type written struct {
		journal, event string
		posted         *ledger.Posted
		ev             *ent.Event
	}
	post := func(tx *ent.Tx) (written, error) {
		acct, err := l.UserAccount(ctx, tx, u, money.CNY)
		if err != nil {
			return written{}, err
		}
		escrow, err := l.PlatformAccount(ctx, tx, ledger.KindEscrow, money.CNY)
		if err != nil {
			return written{}, err
		}
		p, err := l.Post(ctx, tx, ledger.Entry{Kind: "TEST_HOLD", Currency: money.CNY, RefID: u, Memo: "m",
			Evidence: map[string]any{"signature": "c2ln", "counter": 7},
			Legs:     []ledger.Leg{ledger.On(acct, -100), ledger.On(escrow, 100)}})
		if err != nil {
			return written{}, err
		}
		ev, err := events.Append(ctx, tx, events.Event{Type: "review.test", SubjectID: u, UserID: u,
			Payload: map[string]any{"amount": "1.00", "nested": map[string]any{"k": []any{1, "x"}}}})
		if err != nil {
			return written{}, err
		}
		return written{string(p.Transaction.ID), string(ev.ID), p, ev}, nil
	}
	var own written
	if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) (err error) {
		own, err = post(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tx, err := c.Tx(ctx) // not WithTx: flushed by the commit hook, through ent
	if err != nil {
		t.Fatal(err)
	}
	viaEnt, err := post(tx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	row := func(query string, args ...any) []string {
		t.Helper()
		rows, err := e.App.DB.SQL.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		if !rows.Next() {
			t.Fatalf("no row: %s %v", query, args)
		}
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(cols))
		for i, v := range vals {
			out[i] = cols[i] + "=" + v.String
		}
		return out
	}
	typesOf := func(table string, columns []string, where string, arg string) []string {
		var sel []string
		for _, c := range columns {
			sel = append(sel, "typeof("+c+") AS "+c)
		}
		return row("SELECT "+strings.Join(sel, ", ")+" FROM "+table+" WHERE "+where+" = ? LIMIT 1", arg)
	}
	same := func(what string, a, b []string) {
		t.Helper()
		if strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%s:\n written by the flush: %v\n written by ent:       %v", what, a, b)
		}
	}
	journal := []string{"id", "seq", "kind", "currency", "ref_id", "memo", "evidence", "prev_hash", "hash", "created_at"}
	postings := []string{"id", "transaction_id", "account_id", "seq", "kind", "amount", "currency", "balance_after", "day", "created_at"}
	evs := []string{"id", "seq", "type", "subject_id", "user_id", "partner_id", "payload", "created_at"}
	same("journal storage classes", typesOf("ledger_transactions", journal, "id", own.journal), typesOf("ledger_transactions", journal, "id", viaEnt.journal))
	same("posting storage classes", typesOf("postings", postings, "transaction_id", own.journal), typesOf("postings", postings, "transaction_id", viaEnt.journal))
	same("event storage classes", typesOf("events", evs, "id", own.event), typesOf("events", evs, "id", viaEnt.event))
	same("journal values", row("SELECT kind, currency, ref_id, memo, evidence FROM ledger_transactions WHERE id = ?", own.journal),
		row("SELECT kind, currency, ref_id, memo, evidence FROM ledger_transactions WHERE id = ?", viaEnt.journal))
	// Every value as the flush computed it, and every time as the text
	// ent's driver writes (time comparisons in SQL compare that text).
	for _, w := range []written{own, viaEnt} {
		stamp := w.posted.Transaction.CreatedAt
		at := func(query, id string, want time.Time) {
			t.Helper()
			var text string
			if err := e.App.DB.SQL.QueryRowContext(ctx, query, id).Scan(&text); err != nil {
				t.Fatal(err)
			}
			got, err := time.Parse(sqliteTime, text)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s %s: created_at %q (%v), want %v in the driver's format", query, id, text, err, want)
			}
		}
		at("SELECT CAST(created_at AS TEXT) FROM ledger_transactions WHERE id = ?", w.journal, stamp)
		at("SELECT CAST(created_at AS TEXT) FROM events WHERE id = ?", w.event, w.ev.CreatedAt)
		var seq int64
		if err := e.App.DB.SQL.QueryRowContext(ctx, "SELECT seq FROM ledger_transactions WHERE id = ?", w.journal).Scan(&seq); err != nil || seq != w.posted.Transaction.Seq {
			t.Errorf("journal seq %d (%v), want %d", seq, err, w.posted.Transaction.Seq)
		}
		if err := e.App.DB.SQL.QueryRowContext(ctx, "SELECT seq FROM events WHERE id = ?", w.event).Scan(&seq); err != nil || seq != w.ev.Seq {
			t.Errorf("event seq %d (%v), want %d", seq, err, w.ev.Seq)
		}
		for _, p := range w.posted.Postings {
			at("SELECT CAST(created_at AS TEXT) FROM postings WHERE id = ?", string(p.ID), stamp)
			same("posting "+string(p.ID), row("SELECT transaction_id, account_id, seq, kind, amount, currency, balance_after, day FROM postings WHERE id = ?", string(p.ID)),
				[]string{"transaction_id=" + w.journal, "account_id=" + string(p.AccountID), "seq=" + strconv.FormatInt(p.Seq, 10),
					"kind=" + p.Kind, "amount=" + strconv.FormatInt(p.Amount, 10), "currency=" + p.Currency,
					"balance_after=" + strconv.FormatInt(p.BalanceAfter, 10), "day=" + stamp.Format(time.DateOnly)})
		}
	}
	same("event values", row("SELECT type, subject_id, user_id, partner_id, payload FROM events WHERE id = ?", own.event),
		row("SELECT type, subject_id, user_id, partner_id, payload FROM events WHERE id = ?", viaEnt.event))
	got, err := c.LedgerTransaction.Get(ctx, pulid.ID(own.journal))
	if err != nil {
		t.Fatal(err)
	}
	if got.Evidence["signature"] != "c2ln" || got.Evidence["counter"] != float64(7) || got.Memo != "m" {
		t.Errorf("the journal row reads back through ent as %+v", got)
	}
	if rep, err := l.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
