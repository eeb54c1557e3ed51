package app_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"danbao/internal/testenv"
)

// TestStatementClockSkew: two postings of one account whose created_at
// order differs from their seq order (two server processes with clocks
// a few milliseconds apart). The statement's bounds are found by time and
// its entries read by sequence, so every window reconciles: no INTERNAL,
// opening + credits - debits = closing, and the CSV is whole.
func TestStatementClockSkew(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		u, card := funded(t, e.Env, "100.00")
		if r := topUp(t, e.Env, u, card, "50.00", "second"); r.code() != "" {
			t.Fatal(r.code())
		}
		e.App.Bank.Drain()
		var ids []string
		var ats []time.Time
		rows, err := e.App.DB.SQL.Query(`SELECT p.id, p.created_at FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.owner_id = '` + u.ID + `' ORDER BY p.seq`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				t.Fatal(err)
			}
			ids, ats = append(ids, id), append(ats, at)
		}
		rows.Close()
		if len(ids) != 2 {
			t.Fatalf("postings %v", ids)
		}
		// The second (by seq) carries a time 2ms before the first's.
		skewed := ats[0].Add(-2 * time.Millisecond)
		q := "UPDATE postings SET created_at = ? WHERE id = ?"
		if d == testenv.Postgres {
			q = "UPDATE postings SET created_at = $1 WHERE id = $2"
		}
		if _, err := e.App.DB.SQL.Exec(q, skewed, ids[1]); err != nil {
			t.Fatal(err)
		}
		verifyOK(t, e.Env)
		from := ats[0].Add(-1 * time.Millisecond)
		end := time.Now().Add(time.Hour)
		// From between the two stamps: the window starts at the first
		// posting (by sequence) stamped at or after from, and holds both.
		st, codes := statementOf(t, e.Env, u, from, end, "CNY")
		if len(codes) > 0 || st == nil {
			t.Fatalf("statement from between the stamps: %v", codes)
		}
		if st.OpeningBalance != "0.00" || st.ClosingBalance != "150.00" || st.TotalCredits != "150.00" || len(st.Entries) != 2 {
			t.Fatalf("statement from between the stamps: %+v", st)
		}
		// To between the stamps: the window ends before the first posting
		// stamped at or after to: empty, and it still reconciles.
		st, codes = statementOf(t, e.Env, u, ats[0].Add(-time.Hour), from, "CNY")
		if len(codes) > 0 || st == nil {
			t.Fatalf("statement to between the stamps: %v", codes)
		}
		if st.OpeningBalance != "0.00" || st.ClosingBalance != "0.00" || len(st.Entries) != 0 {
			t.Fatalf("statement to between the stamps: %+v", st)
		}
		resp, csvRows := statementCSV(t, e.Env, u.AccessToken, url.Values{"from": {from.Format(time.RFC3339Nano)}, "to": {end.Format(time.RFC3339Nano)}})
		if resp.StatusCode != http.StatusOK || len(csvRows) == 0 || csvRows[len(csvRows)-1][0] != "CLOSING_BALANCE" {
			t.Fatalf("csv: status %d, last row %v", resp.StatusCode, csvRows[len(csvRows)-1:])
		}
	})
}
