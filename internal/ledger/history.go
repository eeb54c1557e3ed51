package ledger

import (
	"context"
	"time"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/internal/money"
	"danbao/internal/page"

	"entgo.io/contrib/entgql"
)

// HistoryFilter narrows a user's history.
type HistoryFilter struct {
	Kinds    []string
	Currency string
	From, To *time.Time // [From, To)
}

// Page is a Relay page request.
type Page struct {
	First, Last   *int
	After, Before *entgql.Cursor[pulid.ID]
}

// History returns a page of the postings of the user's accounts, newest
// first, by keyset pagination on (seq, id) backed by the
// (account_id, seq, id) index: stable under concurrent inserts, no OFFSET.
// Page sizes follow package page. Errors: INVALID_INPUT (first or last
// outside 0..page.Max, both first and last, unknown currency).
func (s *Service) History(ctx context.Context, userID pulid.ID, p Page, f HistoryFilter) (*ent.LedgerEntryConnection, error) {
	first, last, err := page.Bound(p.First, p.Last)
	if err != nil {
		return nil, err
	}
	// The user's accounts first, then their postings by account_id
	// equality: with one account (one currency, or a currency filter) the
	// (account_id, seq, id) index yields the page in order and the query
	// reads only the page; a join or IN subquery on accounts made the
	// database sort every posting of the user for each page.
	accounts := s.client.Account.Query().Where(account.OwnerID(userID), account.KindEQ(account.KindAVAILABLE))
	if f.Currency != "" {
		c, err := money.ParseCurrency(f.Currency)
		if err != nil {
			return nil, err
		}
		accounts.Where(account.Currency(string(c)))
	}
	ids, err := accounts.IDs(ctx)
	if err != nil {
		return nil, err
	}
	q := s.client.Posting.Query()
	if len(ids) == 1 {
		q.Where(posting.AccountID(ids[0]))
	} else {
		q.Where(posting.AccountIDIn(ids...)) // none: an empty page
	}
	if len(f.Kinds) > 0 {
		q.Where(posting.KindIn(f.Kinds...))
	}
	// A time bound becomes a seq bound: the first entry stamped at or
	// after it, found on the (account_id, created_at, seq) index. Stamps
	// never decrease as seq grows (they are taken at the flush under the
	// ledger counter's lock), so the entries before that seq are exactly
	// those stamped before the time, and the page is read on the seq index
	// like an unfiltered one, instead of walking every newer entry to find
	// older ones (or sorting a whole window). Entries written before
	// migration 0015 were stamped when posted, not at the flush, and may
	// fall on the wrong side of a bound by the milliseconds their
	// transaction took (docs/design.md, History).
	if f.From != nil {
		from, ok, err := s.firstSeqAt(ctx, ids, f.From.UTC())
		if err != nil {
			return nil, err
		}
		if !ok {
			q.Where(posting.IDIn()) // nothing stamped at or after From
		} else {
			q.Where(posting.SeqGTE(from))
		}
	}
	if f.To != nil {
		to, ok, err := s.firstSeqAt(ctx, ids, f.To.UTC())
		if err != nil {
			return nil, err
		}
		if ok {
			q.Where(posting.SeqLT(to))
		} else {
			// Nothing stamped at or after To yet: every entry read now is
			// before it, except those committed since the probe, which
			// the time itself leaves out.
			q.Where(posting.CreatedAtLT(f.To.UTC()))
		}
	}
	return q.Paginate(ctx, p.After, first, p.Before, last,
		ent.WithLedgerEntryOrder(&ent.LedgerEntryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.PostingOrderFieldSeq}))
}

// firstSeqAt returns the lowest seq among the entries of accounts stamped
// at or after t (ok false: none), one index probe per account.
func (s *Service) firstSeqAt(ctx context.Context, accounts []pulid.ID, t time.Time) (int64, bool, error) {
	var first int64
	found := false
	for _, id := range accounts {
		seqs, err := s.client.Posting.Query().Where(posting.AccountID(id), posting.CreatedAtGTE(t)).
			Order(ent.Asc(posting.FieldCreatedAt), ent.Asc(posting.FieldSeq)).Limit(1).
			Select(posting.FieldSeq).Ints(ctx)
		if err != nil {
			return 0, false, err
		}
		if len(seqs) == 1 && (!found || int64(seqs[0]) < first) {
			first, found = int64(seqs[0]), true
		}
	}
	return first, found, nil
}
