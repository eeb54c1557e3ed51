package ledger

import (
	"context"
	"sort"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/posting"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"

	"entgo.io/ent/dialect/sql"
)

// MaxReportDays bounds one custody report.
const MaxReportDays = 366

// CustodyDay is one day of the custody report for one currency: custody at
// the start and end of the day (UTC), customer funds and the platform's own
// funds (fees earned, the protection fund) at the end, and the difference
// custody - customer funds - platform funds, which must be zero: every unit
// at the bank is either a customer's or accounted for as the platform's.
type CustodyDay struct {
	Date           string // YYYY-MM-DD
	Currency       string
	OpeningCustody int64
	ClosingCustody int64
	CustomerFunds  int64
	PlatformFunds  int64 // FEES + PROTECTION_FUND
	Custody        int64 // = ClosingCustody
	Difference     int64 // Custody - CustomerFunds - PlatformFunds
}

// CustodyReport returns, for each day from..to (inclusive, UTC dates
// YYYY-MM-DD) and each currency in the ledger, the custody equation at the
// close of the day, as the seed platform's monthly custody report did.
// Errors: INVALID_INPUT (malformed dates, from after to, more than 366 days).
func (s *Service) CustodyReport(ctx context.Context, from, to string) ([]CustodyDay, error) {
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return nil, apperr.Invalid("from", "from must be a date YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return nil, apperr.Invalid("to", "to must be a date YYYY-MM-DD")
	}
	if t.Before(f) {
		return nil, apperr.Invalid("to", "to is before from")
	}
	if days := int(t.Sub(f).Hours()/24) + 1; days > MaxReportDays {
		return nil, apperr.Invalid("to", "at most %d days in one report", MaxReportDays)
	}
	var out []CustodyDay
	err = dbtx.ReadSnapshot(ctx, s.client, func(tx *ent.Tx) error {
		// Daily sums of postings by currency and account kind, up to the end.
		var rows []struct {
			Day      string `json:"day"`
			Currency string `json:"currency"`
			Kind     string `json:"kind"`
			Sum      int64  `json:"sum"`
		}
		err := tx.Posting.Query().
			Where(posting.DayLTE(to)).
			Modify(func(sel *sql.Selector) {
				a := sql.Table(account.Table)
				sel.Join(a).On(sel.C(posting.FieldAccountID), a.C(account.FieldID))
				sel.Select(sel.C(posting.FieldDay), sel.C(posting.FieldCurrency), sql.As(a.C(account.FieldKind), "kind"),
					sql.As(sql.Sum(sel.C(posting.FieldAmount)), "sum"))
				sel.GroupBy(sel.C(posting.FieldDay), sel.C(posting.FieldCurrency), a.C(account.FieldKind))
			}).
			Scan(ctx, &rows)
		if err != nil {
			return err
		}
		type acc struct{ custody, customer, platform int64 }
		byCurrency := map[string]map[string]acc{} // currency -> day -> deltas
		for _, r := range rows {
			m := byCurrency[r.Currency]
			if m == nil {
				m = map[string]acc{}
				byCurrency[r.Currency] = m
			}
			d := m[r.Day]
			switch r.Kind {
			case KindCustody:
				d.custody -= r.Sum
			case KindAvailable, KindEscrow, KindTopUpClearing, KindWithdrawalClearing:
				d.customer += r.Sum
			case KindFees, KindProtectionFund:
				d.platform += r.Sum
			}
			m[r.Day] = d
		}
		currencies := make([]string, 0, len(byCurrency))
		for c := range byCurrency {
			currencies = append(currencies, c)
		}
		sort.Strings(currencies)
		for _, c := range currencies {
			days := byCurrency[c]
			var custody, customer, platform int64
			for day, d := range days { // everything before the report starts
				if day < from {
					custody += d.custody
					customer += d.customer
					platform += d.platform
				}
			}
			for day := f; !day.After(t); day = day.AddDate(0, 0, 1) {
				key := day.Format(time.DateOnly)
				opening := custody
				custody += days[key].custody
				customer += days[key].customer
				platform += days[key].platform
				out = append(out, CustodyDay{Date: key, Currency: c, OpeningCustody: opening,
					ClosingCustody: custody, CustomerFunds: customer, PlatformFunds: platform, Custody: custody,
					Difference: custody - customer - platform})
			}
		}
		return nil
	})
	return out, err
}
