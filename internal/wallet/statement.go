package wallet

import (
	"context"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/money"
)

// Statement bounds.
const (
	// MaxStatementDays is the longest period one statement covers.
	MaxStatementDays = 366
	// MaxStatementEntries is the most entries Statement (the JSON form)
	// returns by default (WithMaxStatementEntries changes it);
	// StreamStatement (the CSV) has no such bound.
	MaxStatementEntries = 10000
	// statementBatch is how many postings StreamStatement reads, and loads
	// the context of, at a time.
	statementBatch = 500
)

// entryPaymentRelease is escrow's entry kind of a release to the seller,
// the one kind of entry a fee is taken from (escrow.EntryPaymentRelease).
const entryPaymentRelease = "PAYMENT_RELEASE"

// StatementQuery is what a statement covers: the user's available balance
// in Currency over [From, To).
type StatementQuery struct {
	From, To time.Time
	Currency string
}

// StatementSummary is a statement's opening and closing balances and
// totals, minor units: Opening + Credits − Debits = Closing.
type StatementSummary struct {
	Currency money.Currency
	From, To time.Time
	Opening  int64 // the balance at From
	Closing  int64 // the balance at To
	Credits  int64 // the sum of the entries that raised the balance
	Debits   int64 // the sum of the entries that lowered it, positive
	Fees     int64 // the fees taken from the credits (already net of them)
	Entries  int   // how many entries
}

// StatementEntry is one posting of a statement with its context.
type StatementEntry struct {
	Posting *ent.Posting  // Amount is signed (credit positive); BalanceAfter is the running balance
	Fee     int64         // the fee taken from this entry, minor units
	Context *EntryContext // the operation and counterparty
}

// Statement is a statement with its entries.
type Statement struct {
	StatementSummary
	List []StatementEntry
}

// checkStatement validates q. Errors: INVALID_INPUT on currency, or on to
// (not after from, or more than MaxStatementDays later; extensions
// maxDays).
func checkStatement(q StatementQuery) (money.Currency, error) {
	c, err := money.ParseCurrency(q.Currency)
	if err != nil {
		return "", err
	}
	if !q.To.After(q.From) {
		return "", apperr.InvalidArgument("to", "to must be after from")
	}
	if q.To.Sub(q.From) > MaxStatementDays*24*time.Hour {
		return "", apperr.InvalidArgument("to", "a statement covers at most %d days", MaxStatementDays).With("maxDays", MaxStatementDays)
	}
	return c, nil
}

// Statement returns userID's statement for q with every entry (see
// StreamStatement). Errors: INVALID_INPUT (from, to, currency),
// STATEMENT_TOO_LARGE (more than the service's entry limit,
// MaxStatementEntries by default; extensions maxEntries).
func (s *Service) Statement(ctx context.Context, userID pulid.ID, q StatementQuery) (*Statement, error) {
	out := &Statement{}
	sum, err := s.StreamStatement(ctx, userID, q, nil, func(e StatementEntry) error {
		if len(out.List) == s.maxEntries {
			return apperr.New(apperr.StatementTooLarge, "the statement has more than %d entries: ask for a shorter period or download the CSV", s.maxEntries).
				With("maxEntries", s.maxEntries)
		}
		out.List = append(out.List, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.StatementSummary = *sum
	return out, nil
}

// StreamStatement reads userID's statement for q from the ledger: the
// postings of the user's available account in the currency from the
// first stamped at or after q.From to the last before the first stamped at
// or after q.To, in posting order (seq, then ID), a batch at a time. It
// calls opening once, before any entry, with the summary so far (the
// opening balance: the balance after the last posting before those, zero
// when there is none), then entry for each entry, and returns the summary.
// The running balance is checked against every posting's balance after,
// so the totals reconcile to the ledger by construction; a mismatch is an
// internal error. An account's postings are ordered by seq in commit order
// (its row lock is held from the balance update to commit), so keyset
// paging on seq misses none. opening may be nil. Errors: INVALID_INPUT
// (from, to, currency), and whatever opening or entry return.
func (s *Service) StreamStatement(ctx context.Context, userID pulid.ID, q StatementQuery,
	opening func(StatementSummary) error, entry func(StatementEntry) error) (*StatementSummary, error) {
	c, err := checkStatement(q)
	if err != nil {
		return nil, err
	}
	from, to := q.From.UTC(), q.To.UTC()
	sum := StatementSummary{Currency: c, From: from, To: to}
	acc, err := s.client.Account.Query().Where(account.OwnerID(userID), account.KindEQ(account.KindAVAILABLE),
		account.Currency(string(c))).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	// The window's bounds are found by time, its postings read by
	// sequence: the first posting stamped at or after from, and the first
	// at or after to. Postings are stamped by the clock of the instance
	// that wrote them and numbered in commit order, so two instances'
	// clocks a few milliseconds apart can stamp a later posting earlier;
	// selecting by time would then split the running balance. (Postings of
	// one transaction share their stamp and their sequence number.)
	var startSeq, endSeq int64 = -1, -1
	if acc != nil {
		firstAt := func(t time.Time) (int64, error) {
			p, err := s.client.Posting.Query().Where(posting.AccountID(acc.ID), posting.CreatedAtGTE(t)).
				Order(ent.Asc(posting.FieldSeq), ent.Asc(posting.FieldID)).First(ctx)
			if ent.IsNotFound(err) {
				return -1, nil
			}
			if err != nil {
				return 0, err
			}
			return p.Seq, nil
		}
		if startSeq, err = firstAt(from); err != nil {
			return nil, err
		}
		if endSeq, err = firstAt(to); err != nil {
			return nil, err
		}
		if endSeq < 0 && startSeq >= 0 {
			// Nothing stamped at or after to yet: the window ends after the
			// last posting now, so that one committed while the statement is
			// read (stamped after to) is not taken in.
			last, err := s.client.Posting.Query().Where(posting.AccountID(acc.ID)).
				Order(ent.Desc(posting.FieldSeq)).First(ctx)
			if err != nil {
				return nil, err
			}
			endSeq = last.Seq + 1
		}
		bq := s.client.Posting.Query().Where(posting.AccountID(acc.ID))
		if startSeq >= 0 {
			bq.Where(posting.SeqLT(startSeq))
		}
		before, err := bq.Order(ent.Desc(posting.FieldSeq), ent.Desc(posting.FieldID)).First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		if before != nil {
			sum.Opening = before.BalanceAfter
		}
	}
	sum.Closing = sum.Opening
	if opening != nil {
		if err := opening(sum); err != nil {
			return nil, err
		}
	}
	if acc == nil || startSeq < 0 || (endSeq >= 0 && endSeq <= startSeq) {
		return &sum, nil
	}
	var last *ent.Posting
	for {
		pq := s.client.Posting.Query().Where(posting.AccountID(acc.ID), posting.SeqGTE(startSeq))
		if endSeq >= 0 {
			pq.Where(posting.SeqLT(endSeq))
		}
		if last != nil {
			pq.Where(posting.Or(posting.SeqGT(last.Seq), posting.And(posting.Seq(last.Seq), posting.IDGT(last.ID))))
		}
		batch, err := pq.Order(ent.Asc(posting.FieldSeq), ent.Asc(posting.FieldID)).Limit(statementBatch).All(ctx)
		if err != nil {
			return nil, err
		}
		if len(batch) == 0 {
			return &sum, nil
		}
		ctxs, err := s.entryContexts(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, p := range batch {
			if sum.Closing+p.Amount != p.BalanceAfter {
				return nil, fmt.Errorf("statement: posting %s: balance %d after %d does not follow the running balance %d",
					p.ID, p.BalanceAfter, p.Amount, sum.Closing)
			}
			e := StatementEntry{Posting: p, Context: ctxs[p.ID]}
			if p.Kind == entryPaymentRelease && p.Amount > 0 && e.Context != nil && e.Context.Payment != nil {
				e.Fee = e.Context.Payment.Fee
			}
			sum.Closing = p.BalanceAfter
			if p.Amount > 0 {
				sum.Credits += p.Amount
			} else {
				sum.Debits -= p.Amount
			}
			sum.Fees += e.Fee
			sum.Entries++
			if err := entry(e); err != nil {
				return nil, err
			}
		}
		last = batch[len(batch)-1]
	}
}
