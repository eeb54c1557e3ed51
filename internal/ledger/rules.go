package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"danbao/internal/money"
)

// Account kinds (ent account.Kind values).
const (
	KindAvailable          = "AVAILABLE"
	KindCustody            = "CUSTODY"
	KindTopUpClearing      = "TOPUP_CLEARING"
	KindWithdrawalClearing = "WITHDRAWAL_CLEARING"
	KindEscrow             = "ESCROW"
	KindFees               = "FEES"
	KindProtectionFund     = "PROTECTION_FUND"
)

// CustomerKinds are the account kinds whose balances are customer funds:
// money the platform holds for its users and must have in custody.
var CustomerKinds = []string{KindAvailable, KindEscrow, KindTopUpClearing, KindWithdrawalClearing}

// MayGoNegative reports whether an account kind may hold a negative balance:
// only CUSTODY, the asset side.
func MayGoNegative(kind string) bool { return kind == KindCustody }

// Deferrable reports whether legs on accounts of kind are applied at the
// commit's flush rather than at Post: the platform's accounts (custody,
// clearing, escrow, fees), one row per currency that
// every movement of its kind touches, so their locks are held from the
// flush to the commit only. A user's AVAILABLE account is applied at once,
// so that a debit it cannot cover is refused with INSUFFICIENT_FUNDS before
// anything else happens, and so is the protection fund: a cold row whose
// debits (compensations) can meet an empty fund, refused with
// INSUFFICIENT_FUNDS. A platform debit refused at the flush (only a broken
// rule can cause one) fails the transaction.
func Deferrable(kind string) bool { return kind != KindAvailable && kind != KindProtectionFund }

// Leg is one posting to be made: a signed amount on an account.
type Leg struct {
	AccountID string
	Kind      string // the account's kind, for the overdraft rule
	Currency  money.Currency
	Amount    int64
}

// CheckBalanced verifies the rules every journal transaction obeys before
// anything is written: at least two legs, each non-zero, on distinct
// accounts, all in currency c, summing to exactly zero without overflow.
func CheckBalanced(c money.Currency, legs []Leg) error {
	if len(legs) < 2 {
		return fmt.Errorf("ledger: a transaction needs at least two postings, got %d", len(legs))
	}
	seen := make(map[string]bool, len(legs))
	var sum int64
	for _, l := range legs {
		if l.Amount == 0 {
			return fmt.Errorf("ledger: zero posting on %s", l.AccountID)
		}
		if l.Currency != c {
			return fmt.Errorf("ledger: posting in %s in a %s transaction: currencies cannot mix", l.Currency, c)
		}
		if seen[l.AccountID] {
			return fmt.Errorf("ledger: two postings on account %s", l.AccountID)
		}
		seen[l.AccountID] = true
		var ok bool
		if sum, ok = money.Add(sum, l.Amount); !ok {
			return fmt.Errorf("ledger: postings overflow")
		}
	}
	if sum != 0 {
		return fmt.Errorf("ledger: postings sum to %d, not zero", sum)
	}
	return nil
}

// SortLegs orders legs by account ID: the one lock order for accounts.
func SortLegs(legs []Leg) {
	sort.Slice(legs, func(i, j int) bool { return legs[i].AccountID < legs[j].AccountID })
}

// Content is what a transaction's hash covers.
type Content struct {
	Seq       int64
	Kind      string
	Currency  string
	RefID     string
	Memo      string
	CreatedAt time.Time
	Evidence  map[string]any
	Postings  []PostingContent // any order; hashed in account order
}

// PostingContent is one posting as hashed.
type PostingContent struct {
	AccountID string
	Amount    int64
}

// Hash returns SHA-256(prev || canonical encoding of c). Strings are
// length-prefixed so that no two contents encode alike. The encoding is
// prev, the seq (8 bytes, big-endian), HashParts' head, the creation time
// in microseconds (8 bytes) and HashParts' tail: on PostgreSQL the flush
// of a single transaction computes the same in SQL, with the seq and the
// time the counter row gives it (journal.flushOne).
func Hash(prev []byte, c Content) []byte {
	head, tail := HashParts(c)
	var b bytes.Buffer
	b.Write(prev)
	_ = binary.Write(&b, binary.BigEndian, c.Seq)
	b.Write(head)
	_ = binary.Write(&b, binary.BigEndian, c.CreatedAt.UnixMicro())
	b.Write(tail)
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// HashParts returns the parts of c's encoding that do not depend on its
// seq or time: what comes between them (kind, currency, reference, memo)
// and after them (the evidence and the postings in account order).
func HashParts(c Content) (head, tail []byte) {
	var h, t bytes.Buffer
	putInt := func(b *bytes.Buffer, v int64) { _ = binary.Write(b, binary.BigEndian, v) }
	putStr := func(b *bytes.Buffer, s string) { putInt(b, int64(len(s))); b.WriteString(s) }
	putStr(&h, c.Kind)
	putStr(&h, c.Currency)
	putStr(&h, c.RefID)
	putStr(&h, c.Memo)
	ev := []byte{}
	if len(c.Evidence) > 0 {
		ev, _ = json.Marshal(c.Evidence) // map keys are sorted: deterministic
	}
	putStr(&t, string(ev))
	ps := append([]PostingContent(nil), c.Postings...)
	sort.Slice(ps, func(i, j int) bool { return ps[i].AccountID < ps[j].AccountID })
	putInt(&t, int64(len(ps)))
	for _, p := range ps {
		putStr(&t, p.AccountID)
		putInt(&t, p.Amount)
	}
	return h.Bytes(), t.Bytes()
}

// UserAccountKey and PlatformAccountKey name accounts uniquely.
func UserAccountKey(userID string, c money.Currency) string {
	return "user:" + userID + ":" + KindAvailable + ":" + string(c)
}

// PlatformAccountKey names a platform account.
func PlatformAccountKey(kind string, c money.Currency) string {
	return "platform:" + kind + ":" + string(c)
}
