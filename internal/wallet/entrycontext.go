package wallet

import (
	"context"
	"slices"
	"sync"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/bankcard"
	"danbao/ent/ledgertransaction"
	"danbao/ent/payment"
	"danbao/ent/posting"
	"danbao/ent/schema/pulid"
	"danbao/ent/topup"
	"danbao/ent/user"
	"danbao/ent/withdrawal"
	"danbao/internal/apperr"
	"danbao/internal/ledger"
)

// EntryContext is what a history entry links to.
type EntryContext struct {
	TopUp        *ent.TopUp
	Withdrawal   *ent.Withdrawal
	Payment      *ent.Payment
	Counterparty string // a card ("visa •••• 4242") or the other user's display name
}

// entryLoader remembers, for one GraphQL operation, the history pages it
// returned, so that the per-entry fields (counterparty, topUp, withdrawal)
// load the context of a whole page in one go: a handful of queries per
// page instead of several per entry and field.
type entryLoader struct {
	mu      sync.Mutex
	batches map[pulid.ID]*entryBatch   // by posting ID
	cards   map[pulid.ID]*ent.BankCard // the cards of the loaded top-ups and withdrawals
}

// entryBatch is the context of one page, loaded once on first use.
type entryBatch struct {
	once     sync.Once
	postings []*ent.Posting
	out      map[pulid.ID]*EntryContext
	err      error
}

type entryLoaderKey struct{}

// WithEntryContexts returns ctx with a loader that batches EntryContext
// over each page History returns under it. Give every request (GraphQL
// operation) its own.
func WithEntryContexts(ctx context.Context) context.Context {
	return context.WithValue(ctx, entryLoaderKey{}, &entryLoader{batches: map[pulid.ID]*entryBatch{}, cards: map[pulid.ID]*ent.BankCard{}})
}

// add registers postings as one batch and returns it.
func (l *entryLoader) add(ps []*ent.Posting) *entryBatch {
	b := &entryBatch{postings: ps}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range ps {
		l.batches[p.ID] = b
	}
	return b
}

// History returns a page of the user's history (see ledger.Service.History
// for the order, the page rules and the errors: INVALID_INPUT) and, under
// WithEntryContexts, registers the page so that its entries' context is
// loaded together.
func (s *Service) History(ctx context.Context, userID pulid.ID, p ledger.Page, f ledger.HistoryFilter) (*ent.LedgerEntryConnection, error) {
	conn, err := s.ledger.History(ctx, userID, p, f)
	if err != nil {
		return nil, err
	}
	if l, ok := ctx.Value(entryLoaderKey{}).(*entryLoader); ok && len(conn.Edges) > 0 {
		ps := make([]*ent.Posting, len(conn.Edges))
		for i, e := range conn.Edges {
			ps[i] = e.Node
		}
		l.add(ps)
	}
	return conn, nil
}

// EntryContext returns the operation a posting belongs to and who is on the
// other side of it. Under WithEntryContexts the posting's whole page (or,
// for a posting History did not return, the posting alone) is loaded once
// and shared by every field that asks.
func (s *Service) EntryContext(ctx context.Context, p *ent.Posting) (*EntryContext, error) {
	l, ok := ctx.Value(entryLoaderKey{}).(*entryLoader)
	if !ok {
		out, err := s.entryContexts(ctx, []*ent.Posting{p})
		if err != nil {
			return nil, err
		}
		return out[p.ID], nil
	}
	l.mu.Lock()
	b := l.batches[p.ID]
	l.mu.Unlock()
	if b == nil {
		b = l.add([]*ent.Posting{p})
	}
	b.once.Do(func() { b.out, b.err = s.entryContexts(ctx, b.postings) })
	if b.err != nil {
		return nil, b.err
	}
	return b.out[p.ID], nil
}

// BankCard returns a card by ID, from the cards EntryContext loaded for
// this operation when it is one of them (a page of top-ups asks for each
// one's card). Errors: NOT_FOUND.
func (s *Service) BankCard(ctx context.Context, id pulid.ID) (*ent.BankCard, error) {
	if l, ok := ctx.Value(entryLoaderKey{}).(*entryLoader); ok {
		l.mu.Lock()
		c := l.cards[id]
		l.mu.Unlock()
		if c != nil {
			return c, nil
		}
	}
	c, err := s.client.BankCard.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no bank card with this ID")
	}
	return c, err
}

// entryContexts loads the context of postings with at most eight queries,
// whatever their number: their journal transactions, the top-ups,
// withdrawals and payments those belong to, the cards of top-ups and
// withdrawals, the accounts of payment entries (whose side of the payment
// they are on), for transfers the other postings, and the counterparties.
func (s *Service) entryContexts(ctx context.Context, ps []*ent.Posting) (map[pulid.ID]*EntryContext, error) {
	ltxs, err := s.client.LedgerTransaction.Query().Where(ledgertransaction.IDIn(unique(ps, func(p *ent.Posting) pulid.ID { return p.TransactionID })...)).All(ctx)
	if err != nil {
		return nil, err
	}
	refOf := make(map[pulid.ID]pulid.ID, len(ltxs))
	var topIDs, wdrIDs, payIDs, transfers []pulid.ID
	for _, t := range ltxs {
		refOf[t.ID] = t.RefID
		switch t.RefID.Prefix() {
		case pulid.PrefixTopUp:
			topIDs = append(topIDs, t.RefID)
		case pulid.PrefixWithdrawal:
			wdrIDs = append(wdrIDs, t.RefID)
		case pulid.PrefixPayment:
			payIDs = append(payIDs, t.RefID)
		default:
			transfers = append(transfers, t.ID)
		}
	}
	tops, err := byID(ctx, len(topIDs) > 0, s.client.TopUp.Query().Where(topup.IDIn(topIDs...)), func(t *ent.TopUp) pulid.ID { return t.ID })
	if err != nil {
		return nil, err
	}
	wdrs, err := byID(ctx, len(wdrIDs) > 0, s.client.Withdrawal.Query().Where(withdrawal.IDIn(wdrIDs...)), func(w *ent.Withdrawal) pulid.ID { return w.ID })
	if err != nil {
		return nil, err
	}
	pays, err := byID(ctx, len(payIDs) > 0, s.client.Payment.Query().Where(payment.IDIn(payIDs...)), func(p *ent.Payment) pulid.ID { return p.ID })
	if err != nil {
		return nil, err
	}
	// A payment entry's counterparty is the other party: the payer for the
	// payee's entries, the payee for everyone else's (the payer's, and the
	// protection fund's compensation to the payer).
	var payAccounts []pulid.ID
	for _, p := range ps {
		if pays[refOf[p.TransactionID]] != nil {
			payAccounts = append(payAccounts, p.AccountID)
		}
	}
	accounts, err := byID(ctx, len(payAccounts) > 0, s.client.Account.Query().Where(account.IDIn(payAccounts...)), func(a *ent.Account) pulid.ID { return a.ID })
	if err != nil {
		return nil, err
	}
	otherParty := func(p *ent.Posting, pay *ent.Payment) pulid.ID {
		if a := accounts[p.AccountID]; a != nil && a.OwnerID == pay.PayeeID {
			return pay.PayerID
		}
		return pay.PayeeID
	}
	var cardIDs []pulid.ID
	for _, t := range tops {
		cardIDs = append(cardIDs, t.BankCardID)
	}
	for _, w := range wdrs {
		cardIDs = append(cardIDs, w.BankCardID)
	}
	cards, err := byID(ctx, len(cardIDs) > 0, s.client.BankCard.Query().Where(bankcard.IDIn(cardIDs...)), func(c *ent.BankCard) pulid.ID { return c.ID })
	if err != nil {
		return nil, err
	}
	if l, ok := ctx.Value(entryLoaderKey{}).(*entryLoader); ok {
		l.mu.Lock()
		for id, c := range cards {
			l.cards[id] = c
		}
		l.mu.Unlock()
	}
	// Transfers: every posting of their journal transactions on a user's
	// account, lowest posting ID first, so that the other side is chosen
	// the same way every time.
	var legs []*ent.Posting
	if len(transfers) > 0 {
		legs, err = s.client.Posting.Query().Where(posting.TransactionIDIn(transfers...)).
			WithAccount().Order(ent.Asc(posting.FieldID)).All(ctx)
		if err != nil {
			return nil, err
		}
	}
	var owners []pulid.ID
	for _, p := range ps {
		if pay := pays[refOf[p.TransactionID]]; pay != nil {
			owners = append(owners, otherParty(p, pay))
		}
	}
	for _, l := range legs {
		if a := l.Edges.Account; a != nil && a.OwnerID != "" {
			owners = append(owners, a.OwnerID)
		}
	}
	users, err := byID(ctx, len(owners) > 0, s.client.User.Query().Where(user.IDIn(owners...)), func(u *ent.User) pulid.ID { return u.ID })
	if err != nil {
		return nil, err
	}
	cardName := func(id pulid.ID) string {
		if c := cards[id]; c != nil {
			return c.Brand + " •••• " + c.Last4
		}
		return ""
	}
	out := make(map[pulid.ID]*EntryContext, len(ps))
	for _, p := range ps {
		ec := &EntryContext{}
		ref := refOf[p.TransactionID]
		switch {
		case tops[ref] != nil:
			ec.TopUp = tops[ref]
			ec.Counterparty = cardName(ec.TopUp.BankCardID)
		case wdrs[ref] != nil:
			ec.Withdrawal = wdrs[ref]
			ec.Counterparty = cardName(ec.Withdrawal.BankCardID)
		case pays[ref] != nil:
			ec.Payment = pays[ref]
			if u := users[otherParty(p, ec.Payment)]; u != nil {
				ec.Counterparty = u.DisplayName
			}
		default:
			for _, l := range legs {
				if a := l.Edges.Account; l.TransactionID == p.TransactionID && l.ID != p.ID && a != nil && a.OwnerID != "" {
					if u := users[a.OwnerID]; u != nil {
						ec.Counterparty = u.DisplayName
					}
					break
				}
			}
		}
		out[p.ID] = ec
	}
	return out, nil
}

// unique returns the distinct keys of items, in first-seen order.
func unique[T any](items []T, key func(T) pulid.ID) []pulid.ID {
	var out []pulid.ID
	for _, it := range items {
		if k := key(it); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// byID runs q (when run is set: an IN list with no values needs no query)
// and indexes its rows by ID.
func byID[T any, Q interface {
	All(context.Context) ([]T, error)
}](ctx context.Context, run bool, q Q, id func(T) pulid.ID) (map[pulid.ID]T, error) {
	out := map[pulid.ID]T{}
	if !run {
		return out, nil
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[id(r)] = r
	}
	return out, nil
}
