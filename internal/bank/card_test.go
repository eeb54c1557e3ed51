package bank

import (
	"strings"
	"testing"

	"danbao/internal/apperr"
)

// withCheckDigit returns payload followed by its Luhn check digit.
func withCheckDigit(payload string) string {
	for d := byte('0'); d <= '9'; d++ {
		if n := payload + string(d); luhn([]byte(n)) {
			return n
		}
	}
	panic("unreachable")
}

func TestValidateCardNumber(t *testing.T) {
	valid12 := withCheckDigit("62000000001")
	valid19 := withCheckDigit("620000000000000000")
	tests := []struct {
		name string
		raw  string
		want string
		msg  string // non-empty: expect INVALID_INPUT containing it
	}{
		{name: "sandbox succeeds", raw: "4242424242424242", want: "4242424242424242"},
		{name: "sandbox declined", raw: "4000000000000002", want: "4000000000000002"},
		{name: "sandbox pending", raw: "4000000000000259", want: "4000000000000259"},
		{name: "visa 4111", raw: "4111111111111111", want: "4111111111111111"},
		{name: "mastercard", raw: "5555555555554444", want: "5555555555554444"},
		{name: "mastercard 2-series", raw: "2223003122003222", want: "2223003122003222"},
		{name: "amex 15 digits", raw: "378282246310005", want: "378282246310005"},
		{name: "unionpay", raw: "6200000000000005", want: "6200000000000005"},
		{name: "spaces", raw: "4242 4242 4242 4242", want: "4242424242424242"},
		{name: "dashes", raw: "4242-4242-4242-4242", want: "4242424242424242"},
		{name: "padding spaces", raw: "  4242424242424242 ", want: "4242424242424242"},
		{name: "12 digits", raw: valid12, want: valid12},
		{name: "19 digits", raw: valid19, want: valid19},
		{name: "empty", raw: "", msg: "card number is required"},
		{name: "only separators", raw: " - -", msg: "card number is required"},
		{name: "bad checksum", raw: "4242424242424241", msg: "check digit"},
		{name: "bad checksum transposed", raw: "4242424242424224", msg: "check digit"},
		{name: "11 digits", raw: withCheckDigit("6200000000"), msg: "12 to 19 digits"},
		{name: "20 digits", raw: withCheckDigit("6200000000000000000"), msg: "12 to 19 digits"},
		{name: "very long", raw: strings.Repeat("4", 1000), msg: "12 to 19 digits"},
		{name: "letters", raw: "4242abcd42424242", msg: "only digits"},
		{name: "letter after long run", raw: strings.Repeat("4", 30) + "x", msg: "only digits"},
		{name: "dots", raw: "4242.4242.4242.4242", msg: "only digits"},
		{name: "tab", raw: "4242\t4242424242424", msg: "only digits"},
		{name: "full-width digits", raw: "４２４２４２４２４２４２４２４２", msg: "only digits"},
		{name: "plus sign", raw: "+4242424242424242", msg: "only digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateCardNumber(tt.raw)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("ValidateCardNumber(%q): %v", tt.raw, err)
				}
				if got != tt.want {
					t.Errorf("ValidateCardNumber(%q) = %q, want %q", tt.raw, got, tt.want)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("ValidateCardNumber(%q) = %q, %v; want *apperr.Error", tt.raw, got, err)
			}
			if e.Code != apperr.InvalidInput || len(e.Field) != 2 || e.Field[1] != "cardNumber" {
				t.Errorf("error = %v, want INVALID_INPUT on cardNumber", e)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.msg)
			}
			if got != "" {
				t.Errorf("number = %q on error, want empty", got)
			}
			// The error must not leak the number or a recognisable piece.
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, tt.raw)
			if len(digits) >= 4 {
				if s := err.Error(); strings.Contains(s, digits[len(digits)-4:]) || strings.Contains(s, digits[:4]) {
					t.Errorf("error %q leaks the card number", s)
				}
			}
		})
	}
}

func TestLast4(t *testing.T) {
	tests := []struct{ in, want string }{
		{"4242424242424242", "4242"},
		{"4000000000000259", "0259"},
		{"4000 0000 0000 0259", "0259"},
		{"4000-0000-0000-02-59", "0259"},
		{"1234", "1234"},
		{"123", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Last4(tt.in); got != tt.want {
			t.Errorf("Last4(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBrand(t *testing.T) {
	tests := []struct{ number, want string }{
		{"4242424242424242", BrandVisa},
		{"4000000000000002", BrandVisa},
		{"5100000000000000", BrandMastercard},
		{"5555555555554444", BrandMastercard},
		{"5500000000000000", BrandMastercard},
		{"5000000000000000", BrandUnknown},
		{"5600000000000000", BrandUnknown},
		{"2221000000000000", BrandMastercard},
		{"2223003122003222", BrandMastercard},
		{"2720990000000000", BrandMastercard},
		{"2220990000000000", BrandUnknown},
		{"2721000000000000", BrandUnknown},
		{"6200000000000005", BrandUnionPay},
		{"6212345678901234", BrandUnionPay},
		{"6011111111111117", BrandUnknown}, // Discover
		{"378282246310005", BrandAmex},
		{"341111111111111", BrandAmex},
		{"3530111333300000", BrandUnknown}, // JCB
		{"35", BrandUnknown},
		{"4", BrandVisa},
		{"", BrandUnknown},
		{"x4242424242424242", BrandUnknown},
	}
	for _, tt := range tests {
		if got := Brand(tt.number); got != tt.want {
			t.Errorf("Brand(%q) = %q, want %q", tt.number, got, tt.want)
		}
	}
}

func TestSandboxOutcome(t *testing.T) {
	tests := []struct {
		number string
		want   Outcome
	}{
		{SandboxCardSucceeds, OutcomeSucceeded},
		{SandboxCardDeclined, OutcomeDeclined},
		{SandboxCardPending, OutcomePending},
		{"4000 0000 0000 0002", OutcomeDeclined},
		{"4000-0000-0000-0259", OutcomePending},
		{"5555555555554444", OutcomeSucceeded},
		{"6200000000000005", OutcomeSucceeded},
		{"4242424242424241", OutcomeDeclined}, // not Luhn-valid
		{"", OutcomeDeclined},
	}
	for _, tt := range tests {
		if got := SandboxOutcome(tt.number); got != tt.want {
			t.Errorf("SandboxOutcome(%q) = %q, want %q", tt.number, got, tt.want)
		}
	}
}
