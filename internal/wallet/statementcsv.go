package wallet

import (
	"context"
	"encoding/csv"
	"io"
	"strings"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/internal/money"
)

// StatementLine is a statement entry as both of its forms show it:
// amounts as decimal strings in major units.
type StatementLine struct {
	ID, TransactionID pulid.ID
	At                time.Time
	Type              string // the entry kind, e.g. PAYMENT_RELEASE
	Direction         string // CREDIT or DEBIT
	Amount            string // positive
	Fee               string
	BalanceAfter      string
	Counterparty      string
	PaymentID         pulid.ID // empty when the entry is not a payment's
	MerchantOrderRef  string
	Reference         pulid.ID // the top-up, withdrawal or payment
}

// Line returns e as shown in a statement of currency c.
func (e StatementEntry) Line(c money.Currency) StatementLine {
	p := e.Posting
	l := StatementLine{ID: p.ID, TransactionID: p.TransactionID, At: p.CreatedAt, Type: p.Kind, Direction: "CREDIT",
		Amount: money.FormatMinor(p.Amount, c), Fee: money.FormatMinor(e.Fee, c), BalanceAfter: money.FormatMinor(p.BalanceAfter, c)}
	if p.Amount < 0 {
		l.Direction, l.Amount = "DEBIT", money.FormatMinor(-p.Amount, c)
	}
	if ec := e.Context; ec != nil {
		l.Counterparty = ec.Counterparty
		switch {
		case ec.Payment != nil:
			l.PaymentID, l.Reference, l.MerchantOrderRef = ec.Payment.ID, ec.Payment.ID, ec.Payment.MerchantOrderRef
		case ec.TopUp != nil:
			l.Reference = ec.TopUp.ID
		case ec.Withdrawal != nil:
			l.Reference = ec.Withdrawal.ID
		}
	}
	return l
}

// StatementCSVHeader is the header row of the CSV statement. The first
// column says what a row is: OPENING_BALANCE (first), ENTRY (one per
// entry, oldest first), then TOTAL_CREDITS, TOTAL_DEBITS, TOTAL_FEES (the
// total in amount) and CLOSING_BALANCE (last; a file without it was cut
// short).
var StatementCSVHeader = []string{"record", "time", "entry_id", "transaction_id", "type", "direction", "amount", "fee",
	"balance_after", "currency", "counterparty", "payment_id", "merchant_order_ref", "reference"}

// WriteStatementCSV streams userID's statement for q to w as CSV (see
// StatementCSVHeader), flushing after each batch of entries, so memory
// does not grow with the statement. Cells that a spreadsheet would read
// as a formula (starting with = + - @, a tab or a carriage return) are
// prefixed with a single quote. begin is called once the query is valid,
// before the first byte is written (to set response headers); after it,
// an error leaves the file without its CLOSING_BALANCE row. Errors:
// INVALID_INPUT (from, to, currency) before begin; write errors after.
func (s *Service) WriteStatementCSV(ctx context.Context, w io.Writer, userID pulid.ID, q StatementQuery, begin func()) error {
	cw := csv.NewWriter(w)
	row := func(cells ...string) error {
		for i, v := range cells {
			cells[i] = SafeCell(v)
		}
		return cw.Write(cells)
	}
	var c money.Currency
	n := 0
	sum, err := s.StreamStatement(ctx, userID, q, func(sum StatementSummary) error {
		c = sum.Currency
		begin()
		if err := cw.Write(StatementCSVHeader); err != nil {
			return err
		}
		return row("OPENING_BALANCE", stamp(sum.From), "", "", "", "", "", "", money.FormatMinor(sum.Opening, c), string(c), "", "", "", "")
	}, func(e StatementEntry) error {
		l := e.Line(c)
		if err := row("ENTRY", stamp(l.At), string(l.ID), string(l.TransactionID), l.Type, l.Direction, l.Amount, l.Fee,
			l.BalanceAfter, string(c), l.Counterparty, string(l.PaymentID), l.MerchantOrderRef, string(l.Reference)); err != nil {
			return err
		}
		if n++; n%statementBatch == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	if err != nil {
		cw.Flush()
		return err
	}
	end := stamp(sum.To)
	for _, t := range []struct {
		name   string
		amount int64
	}{{"TOTAL_CREDITS", sum.Credits}, {"TOTAL_DEBITS", sum.Debits}, {"TOTAL_FEES", sum.Fees}} {
		if err := row(t.name, end, "", "", "", "", money.FormatMinor(t.amount, c), "", "", string(c), "", "", "", ""); err != nil {
			return err
		}
	}
	if err := row("CLOSING_BALANCE", end, "", "", "", "", "", "", money.FormatMinor(sum.Closing, c), string(c), "", "", "", ""); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// SafeCell defuses a CSV cell a spreadsheet would run as a formula: one
// starting with = + - @, a tab or a carriage return gets a leading single
// quote (OWASP's advice on CSV injection). Other cells are unchanged.
func SafeCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
