package bank

import (
	"testing"

	"danbao/internal/apperr"
)

func TestCheckAmount(t *testing.T) {
	r := Request{Reference: "top_1", Amount: 4000, Currency: "CNY"}
	tests := []struct {
		name     string
		amount   int64
		currency string
		want     apperr.Code // "" accepted
	}{
		{"same", 4000, "CNY", ""},
		{"partial capture", 3999, "CNY", apperr.AmountMismatch},
		{"more than asked", 4001, "CNY", apperr.AmountMismatch},
		{"other currency", 4000, "USD", apperr.AmountMismatch},
		{"no amount", 0, "CNY", apperr.InvalidInput},
		{"negative", -4000, "CNY", apperr.InvalidInput},
		{"no currency", 4000, "", apperr.InvalidInput},
	}
	for _, tt := range tests {
		cb := CallbackFor("cb_1", KindCharge, r, OutcomeSucceeded, "")
		cb.Amount, cb.Currency = tt.amount, tt.currency
		if got := apperr.CodeOf(CheckAmount(cb, r.Amount, r.Currency)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
