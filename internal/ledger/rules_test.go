package ledger

import (
	"bytes"
	"math"
	"math/big"
	"testing"
	"time"

	"danbao/internal/money"
)

func TestCheckBalanced(t *testing.T) {
	leg := func(id string, amt int64) Leg { return Leg{AccountID: id, Currency: money.CNY, Amount: amt} }
	cases := []struct {
		name string
		legs []Leg
		ok   bool
	}{
		{"balanced pair", []Leg{leg("a", -100), leg("b", 100)}, true},
		{"balanced three", []Leg{leg("a", -100), leg("b", 95), leg("c", 5)}, true},
		{"one leg", []Leg{leg("a", 0)}, false},
		{"unbalanced", []Leg{leg("a", -100), leg("b", 99)}, false},
		{"zero leg", []Leg{leg("a", -100), leg("b", 100), leg("c", 0)}, false},
		{"same account twice", []Leg{leg("a", -100), leg("a", 100)}, false},
		{"mixed currencies", []Leg{leg("a", -100), {AccountID: "b", Currency: money.USD, Amount: 100}}, false},
		{"overflow", []Leg{leg("a", math.MaxInt64), leg("b", 1), leg("c", math.MinInt64)}, false},
	}
	for _, c := range cases {
		if err := CheckBalanced(money.CNY, c.legs); (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestHashCoversEveryField(t *testing.T) {
	base := Content{Seq: 7, Kind: "TOPUP", Currency: "CNY", RefID: "top_1", Memo: "m",
		CreatedAt: time.Unix(1700000000, 123000).UTC(), Evidence: map[string]any{"credentialId": "x"},
		Postings: []PostingContent{{"acc_a", -100}, {"acc_b", 100}}}
	h := Hash([]byte("prev"), base)
	// Posting order does not matter...
	swapped := base
	swapped.Postings = []PostingContent{{"acc_b", 100}, {"acc_a", -100}}
	if !bytes.Equal(h, Hash([]byte("prev"), swapped)) {
		t.Fatal("hash depends on posting order")
	}
	// ...but every field does.
	mutations := map[string]func(c *Content){
		"seq":      func(c *Content) { c.Seq++ },
		"kind":     func(c *Content) { c.Kind = "TRANSFER" },
		"currency": func(c *Content) { c.Currency = "USD" },
		"ref":      func(c *Content) { c.RefID = "top_2" },
		"memo":     func(c *Content) { c.Memo = "n" },
		"time":     func(c *Content) { c.CreatedAt = c.CreatedAt.Add(time.Microsecond) },
		"evidence": func(c *Content) { c.Evidence = map[string]any{"credentialId": "y"} },
		"amount":   func(c *Content) { c.Postings = []PostingContent{{"acc_a", -101}, {"acc_b", 101}} },
		"account":  func(c *Content) { c.Postings = []PostingContent{{"acc_a", -100}, {"acc_c", 100}} },
		"boundary": func(c *Content) { c.Kind, c.Currency = "TOPUPC", "NY" },
	}
	for name, m := range mutations {
		c := base
		m(&c)
		if bytes.Equal(h, Hash([]byte("prev"), c)) {
			t.Errorf("hash ignores %s", name)
		}
	}
	if bytes.Equal(h, Hash([]byte("other"), base)) {
		t.Error("hash ignores the previous hash")
	}
}

// FuzzCheckBalanced: whatever the legs, CheckBalanced never panics, and
// anything it accepts has two or more distinct non-zero legs in the one
// currency that sum to exactly zero (checked here with big integers).
func FuzzCheckBalanced(f *testing.F) {
	f.Add(int64(-100), int64(100), int64(0), uint8(2), false)
	f.Add(int64(math.MaxInt64), int64(1), int64(math.MinInt64), uint8(3), false)
	f.Add(int64(-5), int64(5), int64(0), uint8(2), true)
	f.Fuzz(func(t *testing.T, a, b, c int64, n uint8, sameAccount bool) {
		amounts := []int64{a, b, c}[:2+int(n)%2]
		legs := make([]Leg, len(amounts))
		for i, amt := range amounts {
			id := string(rune('a' + i))
			if sameAccount {
				id = "a"
			}
			legs[i] = Leg{AccountID: id, Currency: money.CNY, Amount: amt}
		}
		if CheckBalanced(money.CNY, legs) != nil {
			return
		}
		sum := new(big.Int)
		seen := map[string]bool{}
		for _, l := range legs {
			if l.Amount == 0 || seen[l.AccountID] {
				t.Fatalf("accepted %+v", legs)
			}
			seen[l.AccountID] = true
			sum.Add(sum, big.NewInt(l.Amount))
		}
		if sum.Sign() != 0 {
			t.Fatalf("accepted legs summing to %s", sum)
		}
	})
}
