package app_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"danbao/ent/account"
	"danbao/ent/posting"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

type statementEntryView struct {
	ID, TransactionID, Type, Direction, Amount, Fee, BalanceAfter string
	At                                                            time.Time
	Counterparty, PaymentID, MerchantOrderRef, Reference          *string
}

type statementView struct {
	Currency                                                             string
	OpeningBalance, ClosingBalance, TotalCredits, TotalDebits, TotalFees string
	Entries                                                              []statementEntryView
}

const statementQuery = `query($from: Time!, $to: Time!, $currency: String!){ statement(from:$from, to:$to, currency:$currency) {
	currency openingBalance closingBalance totalCredits totalDebits totalFees
	entries { id at transactionId type direction amount fee balanceAfter counterparty paymentId merchantOrderRef reference } } }`

func statementOf(t *testing.T, e *testenv.Env, u *testenv.User, from, to time.Time, currency string) (*statementView, []string) {
	t.Helper()
	resp := e.Do(t, u.AccessToken, statementQuery, map[string]any{"from": from.Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano), "currency": currency})
	if len(resp.Errors) > 0 {
		return nil, resp.Codes()
	}
	var out struct{ Statement statementView }
	resp.Decode(t, &out)
	return &out.Statement, nil
}

// statementCSV downloads the CSV statement; it returns the response and,
// for a 200, the parsed rows.
func statementCSV(t *testing.T, e *testenv.Env, token string, params url.Values) (*http.Response, [][]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.Server.URL+"/statements.csv?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var doc struct {
			Errors []struct{ Extensions map[string]any }
		}
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		if len(doc.Errors) == 0 {
			t.Fatalf("status %d without an error document", resp.StatusCode)
		}
		resp.Header.Set("X-Test-Code", fmt.Sprint(doc.Errors[0].Extensions["code"]))
		return resp, nil
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return resp, rows
}

// ledgerBalanceAt sums the postings of u's CNY available account created
// before at: the ledger's own balance at that instant, computed without
// the statement's code.
func ledgerBalanceAt(t *testing.T, e *testenv.Env, u *testenv.User, at time.Time) int64 {
	t.Helper()
	ps, err := e.App.DB.Client.Posting.Query().Where(posting.HasAccountWith(account.OwnerID(pulidOf(u.ID)), account.KindEQ(account.KindAVAILABLE)),
		posting.Currency("CNY"), posting.CreatedAtLT(at)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range ps {
		sum += p.Amount
	}
	return sum
}

func minor(t *testing.T, s string) int64 {
	t.Helper()
	v, err := money.ParseAmount(s, "CNY")
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return v
}

// TestBusyMerchantStatement: a seller receives many released payments
// (fees above the free monthly volume), partial and full refunds, a
// dispute, top-ups and withdrawals (one declined and returned); the
// statement of a window in the middle reconciles exactly to the ledger,
// and the CSV rows are the JSON entries.
func TestBusyMerchantStatement(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		ctx := context.Background()
		seller, card := funded(t, e.Env, "50.00")
		op := e.Operator(t)
		buyers := []buyer{e.buyer(t, "900.00"), e.buyer(t, "900.00"), e.buyer(t, "900.00")}
		// A counterparty whose name a spreadsheet would run as a formula.
		if err := e.App.DB.Client.User.UpdateOneID(pulidOf(buyers[0].ID)).SetDisplayName("=HYPERLINK(\"x\")").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		sale := func(b buyer, amount string) string {
			id := e.pay(t, b, seller, amount)
			if r := e.ship(t, seller, id); r.code() != "" {
				t.Fatalf("ship: %+v", r)
			}
			return id
		}
		// Before the window: one completed sale.
		if r := e.confirm(t, buyers[0].User, sale(buyers[0], "40.00")); r.code() != "" {
			t.Fatalf("confirm: %+v", r)
		}
		from := time.Now().UTC().Truncate(time.Microsecond).Add(time.Microsecond)

		// The window: many sales to one seller.
		for i := 0; i < 15; i++ {
			b := buyers[i%3]
			id := sale(b, fmt.Sprintf("%d.%02d", 30+i*3, i))
			switch i % 5 {
			case 1: // partly refunded, then completed
				if r := e.refund(t, b.User, id, "5.00"); r.code() != "" {
					t.Fatalf("refund: %+v", r)
				}
				if r := e.respond(t, seller, id, true); r.code() != "" {
					t.Fatalf("accept: %+v", r)
				}
				if r := e.confirm(t, b.User, id); r.code() != "" {
					t.Fatalf("confirm: %+v", r)
				}
			case 3: // disputed, the operator splits it
				if r := e.dispute(t, b.User, id); r.code() != "" {
					t.Fatalf("dispute: %+v", r)
				}
				if r := e.resolve(t, op, id, "10.00"); r.code() != "" {
					t.Fatalf("resolve: %+v", r)
				}
			case 4: // fully refunded: nothing reaches the seller
				if r := e.refund(t, b.User, id, e.payment(t, b.User, id).Amount); r.code() != "" {
					t.Fatalf("refund: %+v", r)
				}
				if r := e.respond(t, seller, id, true); r.code() != "" {
					t.Fatalf("accept: %+v", r)
				}
			default:
				if r := e.confirm(t, b.User, id); r.code() != "" {
					t.Fatalf("confirm: %+v", r)
				}
			}
			if i == 6 {
				if r := withdraw(t, e.Env, seller, card, "100.00", "w1"); r.code() != "" {
					t.Fatalf("withdraw: %s", r.code())
				}
				if r := topUp(t, e.Env, seller, card, "20.00", "t1"); r.code() != "" {
					t.Fatalf("top-up: %s", r.code())
				}
				declined := linkCard(t, e.Env, seller, "4000000000000002")
				if r := withdraw(t, e.Env, seller, declined, "30.00", "w2"); r.code() != "" {
					t.Fatalf("withdraw: %s", r.code())
				}
				e.App.Bank.Drain()
			}
		}
		to := time.Now().UTC().Truncate(time.Microsecond).Add(time.Microsecond)
		// After the window: another sale.
		if r := e.confirm(t, buyers[1].User, sale(buyers[1], "60.00")); r.code() != "" {
			t.Fatalf("confirm: %+v", r)
		}
		verifyOK(t, e.Env)

		st, codes := statementOf(t, e.Env, seller, from, to, "CNY")
		if st == nil {
			t.Fatalf("statement: %v", codes)
		}
		opening, closing := minor(t, st.OpeningBalance), minor(t, st.ClosingBalance)
		credits, debits, fees := minor(t, st.TotalCredits), minor(t, st.TotalDebits), minor(t, st.TotalFees)
		want(t, "opening = the ledger's balance at from", opening, ledgerBalanceAt(t, e.Env, seller, from))
		want(t, "closing = the ledger's balance at to", closing, ledgerBalanceAt(t, e.Env, seller, to))
		want(t, "opening + credits - debits = closing", opening+credits-debits, closing)
		if opening == 0 || fees == 0 || debits == 0 || len(st.Entries) < 15 {
			t.Fatalf("the scenario did not exercise the statement: opening %d fees %d debits %d entries %d", opening, fees, debits, len(st.Entries))
		}
		// Every entry: the running balance follows, and the totals are the
		// sums of the entries; a release's fee is what the fees account got
		// in the same journal transaction.
		running, sumC, sumD, sumF := opening, int64(0), int64(0), int64(0)
		kinds := map[string]int{}
		for _, en := range st.Entries {
			amt, fee := minor(t, en.Amount), minor(t, en.Fee)
			kinds[en.Type]++
			if en.Direction == "CREDIT" {
				running += amt
				sumC += amt
			} else {
				running -= amt
				sumD += amt
			}
			sumF += fee
			want(t, "running balance of "+en.ID, running, minor(t, en.BalanceAfter))
			if en.At.Before(from) || !en.At.Before(to) {
				t.Fatalf("entry %s at %v outside the window", en.ID, en.At)
			}
			feesPosted, err := e.App.DB.Client.Posting.Query().Where(posting.TransactionID(pulidOf(en.TransactionID)),
				posting.HasAccountWith(account.KindEQ(account.KindFEES))).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ledgerFee int64
			for _, p := range feesPosted {
				ledgerFee += p.Amount
			}
			want(t, "fee of "+en.ID+" in the ledger", fee, ledgerFee)
			if en.Type == "PAYMENT_RELEASE" && (en.PaymentID == nil || en.Reference == nil || *en.Reference != *en.PaymentID ||
				en.Counterparty == nil || en.MerchantOrderRef == nil) {
				t.Fatalf("release entry without its payment: %+v", en)
			}
			if (en.Type == "WITHDRAWAL" || en.Type == "TOPUP" || en.Type == "WITHDRAWAL_RETURN") && (en.Reference == nil || en.Counterparty == nil) {
				t.Fatalf("entry without its reference: %+v", en)
			}
		}
		want(t, "credits", sumC, credits)
		want(t, "debits", sumD, debits)
		want(t, "fees", sumF, fees)
		want(t, "closing", running, closing)
		want(t, "kinds", fmt.Sprint(kinds["PAYMENT_RELEASE"], kinds["WITHDRAWAL"], kinds["WITHDRAWAL_RETURN"], kinds["TOPUP"]), "12 2 1 1")

		// The CSV: the same entries, row for row.
		params := url.Values{"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
		resp, rows := statementCSV(t, e.Env, seller.AccessToken, params)
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") || !strings.HasPrefix(cd, "attachment;") {
			t.Fatalf("headers: %q %q", ct, cd)
		}
		want(t, "rows", len(rows), 1+1+len(st.Entries)+4)
		want(t, "header", strings.Join(rows[0], ","), "record,time,entry_id,transaction_id,type,direction,amount,fee,balance_after,currency,counterparty,payment_id,merchant_order_ref,reference")
		want(t, "opening row", rows[1][0]+" "+rows[1][8], "OPENING_BALANCE "+st.OpeningBalance)
		sawFormula := false
		for i, en := range st.Entries {
			r := rows[2+i]
			cp := deref(en.Counterparty)
			if strings.HasPrefix(cp, "=") {
				sawFormula = true
				cp = "'" + cp // defused in the CSV
			}
			wantRow := []string{"ENTRY", en.At.UTC().Format(time.RFC3339Nano), en.ID, en.TransactionID, en.Type, en.Direction, en.Amount, en.Fee,
				en.BalanceAfter, "CNY", cp, deref(en.PaymentID), deref(en.MerchantOrderRef), deref(en.Reference)}
			want(t, fmt.Sprintf("CSV row %d", i), strings.Join(r, "|"), strings.Join(wantRow, "|"))
		}
		if !sawFormula {
			t.Fatal("no counterparty starting with = in the window")
		}
		tail := rows[len(rows)-4:]
		want(t, "totals rows", fmt.Sprint(tail[0][0], tail[0][6], tail[1][0], tail[1][6], tail[2][0], tail[2][6], tail[3][0], tail[3][8]),
			fmt.Sprint("TOTAL_CREDITS", st.TotalCredits, "TOTAL_DEBITS", st.TotalDebits, "TOTAL_FEES", st.TotalFees, "CLOSING_BALANCE", st.ClosingBalance))

		// A statement of another user in the same window is theirs only.
		other, _ := statementOf(t, e.Env, buyers[2].User, from, to, "CNY")
		for _, en := range other.Entries {
			if en.Type == "PAYMENT_RELEASE" || en.Type == "WITHDRAWAL" {
				t.Fatalf("the buyer's statement shows the seller's entry %+v", en)
			}
		}
	})
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// TestStatementRefusals: bad ranges, currencies and callers get stable
// codes on both forms.
func TestStatementRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.RegisterVerified(t)
		now := time.Now().UTC()
		cases := []struct {
			name     string
			from, to time.Time
			currency string
		}{
			{"to before from", now, now.Add(-time.Hour), "CNY"},
			{"empty range", now, now, "CNY"},
			{"more than 366 days", now.Add(-367 * 24 * time.Hour), now, "CNY"},
			{"unknown currency", now.Add(-time.Hour), now, "XXX"},
		}
		for _, c := range cases {
			if _, codes := statementOf(t, e, u, c.from, c.to, c.currency); fmt.Sprint(codes) != "[INVALID_INPUT]" {
				t.Errorf("%s: JSON codes %v", c.name, codes)
			}
			resp, _ := statementCSV(t, e, u.AccessToken, url.Values{"from": {c.from.Format(time.RFC3339)}, "to": {c.to.Format(time.RFC3339)}, "currency": {c.currency}})
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Test-Code") != "INVALID_INPUT" {
				t.Errorf("%s: CSV %d %s", c.name, resp.StatusCode, resp.Header.Get("X-Test-Code"))
			}
		}
		resp, _ := statementCSV(t, e, u.AccessToken, url.Values{"from": {"yesterday"}, "to": {now.Format(time.RFC3339)}})
		want(t, "malformed from", resp.StatusCode, http.StatusBadRequest)
		resp, _ = statementCSV(t, e, "", url.Values{"from": {now.Add(-time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}})
		want(t, "no token", fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("X-Test-Code")), "401 UNAUTHENTICATED")
		if _, codes := statementOf(t, e, &testenv.User{}, now.Add(-time.Hour), now, "CNY"); fmt.Sprint(codes) != "[UNAUTHENTICATED]" {
			t.Errorf("signed out: %v", codes)
		}
		// 366 days exactly, with nothing in it: zeros, no entries.
		st, codes := statementOf(t, e, u, now.Add(-366*24*time.Hour), now, "CNY")
		if st == nil || st.OpeningBalance != "0.00" || st.ClosingBalance != "0.00" || len(st.Entries) != 0 {
			t.Fatalf("empty statement: %+v %v", st, codes)
		}
	})
}

// TestStatementCostsItsEntries: the entries of a statement count as a full
// page each in the complexity budget, so a request cannot alias many
// statements.
func TestStatementCostsItsEntries(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.RegisterVerified(t)
	one := `s%d: statement(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { openingBalance entries { id at transactionId type direction amount fee balanceAfter counterparty paymentId merchantOrderRef reference } }`
	q := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, one+" ", i)
		}
		return b.String() + "}"
	}
	if r := e.Do(t, u.AccessToken, q(2), nil); len(r.Errors) > 0 {
		t.Fatalf("two statements: %v", r.Codes())
	}
	if r := e.Do(t, u.AccessToken, q(5), nil); fmt.Sprint(r.Codes()) != "[COMPLEXITY_LIMIT_EXCEEDED]" {
		t.Fatalf("five statements: %v", r.Codes())
	}
}
