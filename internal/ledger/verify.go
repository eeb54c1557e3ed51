package ledger

import (
	"bytes"
	"context"
	"fmt"

	"danbao/ent"
	"danbao/ent/account"
	"danbao/ent/counter"
	"danbao/ent/ledgertransaction"
	"danbao/ent/posting"
	"danbao/internal/dbtx"
	"danbao/internal/money"
)

// Violation is one broken invariant found by Verify.
type Violation struct {
	Kind    string // UNBALANCED, BALANCE_MISMATCH, NEGATIVE_BALANCE, HASH_CHAIN, CUSTODY_MISMATCH
	Message string
}

// Report is the result of Verify.
type Report struct {
	Transactions int
	Accounts     int
	Violations   []Violation
}

// OK reports whether every invariant holds.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

func (r *Report) add(kind, format string, args ...any) {
	r.Violations = append(r.Violations, Violation{Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// verifyBatch is how many transactions Verify reads at a time.
const verifyBatch = 1000

// Verify checks every invariant of the package doc over one consistent
// snapshot and reports each violation found (it does not stop at the
// first).
func (s *Service) Verify(ctx context.Context) (*Report, error) {
	r := &Report{}
	err := dbtx.ReadSnapshot(ctx, s.client, func(tx *ent.Tx) error {
		if err := s.verifyChain(ctx, tx, r); err != nil {
			return err
		}
		return s.verifyBalances(ctx, tx, r)
	})
	return r, err
}

func (s *Service) verifyChain(ctx context.Context, tx *ent.Tx, r *Report) error {
	prev := []byte{}
	var last int64
	for {
		txs, err := tx.LedgerTransaction.Query().
			Where(ledgertransaction.SeqGT(last)).
			Order(ent.Asc(ledgertransaction.FieldSeq)).
			Limit(verifyBatch).
			WithPostings().
			All(ctx)
		if err != nil {
			return err
		}
		for _, t := range txs {
			r.Transactions++
			if t.Seq != last+1 {
				r.add("HASH_CHAIN", "transaction seq %d follows %d: a transaction is missing", t.Seq, last)
			}
			last = t.Seq
			var sum int64
			c := Content{Seq: t.Seq, Kind: t.Kind, Currency: t.Currency, RefID: string(t.RefID),
				Memo: t.Memo, CreatedAt: t.CreatedAt, Evidence: t.Evidence}
			for _, p := range t.Edges.Postings {
				sum += p.Amount
				if p.Currency != t.Currency {
					r.add("UNBALANCED", "transaction %s mixes %s into a %s transaction", t.ID, p.Currency, t.Currency)
				}
				c.Postings = append(c.Postings, PostingContent{AccountID: string(p.AccountID), Amount: p.Amount})
			}
			if sum != 0 || len(t.Edges.Postings) < 2 {
				r.add("UNBALANCED", "transaction %s (seq %d) has %d postings summing to %d", t.ID, t.Seq, len(t.Edges.Postings), sum)
			}
			if !bytes.Equal(t.PrevHash, prev) {
				r.add("HASH_CHAIN", "transaction seq %d does not link to the hash of seq %d", t.Seq, t.Seq-1)
			}
			if h := Hash(t.PrevHash, c); !bytes.Equal(h, t.Hash) {
				r.add("HASH_CHAIN", "transaction seq %d does not match its hash: its content was altered", t.Seq)
			}
			prev = t.Hash
		}
		if len(txs) < verifyBatch {
			break
		}
	}
	head, err := tx.Counter.Query().Where(counter.ID(CounterID)).Only(ctx)
	if ent.IsNotFound(err) {
		if last != 0 {
			r.add("HASH_CHAIN", "the chain head is missing")
		}
		return nil
	}
	if err != nil {
		return err
	}
	if head.Value != last || !bytes.Equal(nonNil(head.Hash), prev) {
		r.add("HASH_CHAIN", "the chain head (seq %d) does not match the last transaction (seq %d)", head.Value, last)
	}
	return nil
}

func (s *Service) verifyBalances(ctx context.Context, tx *ent.Tx, r *Report) error {
	var sums []struct {
		AccountID string `json:"account_id"`
		Sum       int64  `json:"sum"`
	}
	if err := tx.Posting.Query().GroupBy(posting.FieldAccountID).
		Aggregate(ent.As(ent.Sum(posting.FieldAmount), "sum")).Scan(ctx, &sums); err != nil {
		return err
	}
	bySum := make(map[string]int64, len(sums))
	for _, s := range sums {
		bySum[s.AccountID] = s.Sum
	}
	accounts, err := tx.Account.Query().Order(ent.Asc(account.FieldID)).All(ctx)
	if err != nil {
		return err
	}
	customer := map[string]int64{}
	platform := map[string]int64{}
	custody := map[string]int64{}
	currencies := map[string]bool{}
	for _, a := range accounts {
		r.Accounts++
		if got := bySum[string(a.ID)]; got != a.Balance {
			r.add("BALANCE_MISMATCH", "account %s (%s %s) caches %d but its postings sum to %d", a.ID, a.Kind, a.Currency, a.Balance, got)
		}
		if a.Balance < 0 && !MayGoNegative(string(a.Kind)) {
			r.add("NEGATIVE_BALANCE", "account %s (%s %s) is negative: %d", a.ID, a.Kind, a.Currency, a.Balance)
		}
		currencies[a.Currency] = true
		switch string(a.Kind) {
		case KindCustody:
			custody[a.Currency] -= a.Balance
		case KindAvailable, KindEscrow, KindTopUpClearing, KindWithdrawalClearing:
			customer[a.Currency] += a.Balance
		case KindFees, KindProtectionFund:
			platform[a.Currency] += a.Balance
		}
	}
	for c := range currencies {
		// Fees earned and the protection fund are the platform's own money
		// kept in custody beside the customers'.
		if customer[c]+platform[c] != custody[c] {
			cur := money.Currency(c)
			r.add("CUSTODY_MISMATCH", "%s customer funds %s and platform funds %s differ from custody %s", c,
				money.FormatMinor(customer[c], cur), money.FormatMinor(platform[c], cur), money.FormatMinor(custody[c], cur))
		}
	}
	return nil
}
