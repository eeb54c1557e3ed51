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
	if f.From != nil {
		q.Where(posting.CreatedAtGTE(f.From.UTC()))
	}
	if f.To != nil {
		q.Where(posting.CreatedAtLT(f.To.UTC()))
	}
	return q.Paginate(ctx, p.After, first, p.Before, last,
		ent.WithLedgerEntryOrder(&ent.LedgerEntryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.PostingOrderFieldSeq}))
}
