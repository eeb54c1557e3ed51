package passkey

import (
	"bytes"
	"encoding/hex"
	"testing"

	"danbao/internal/apperr"
)

var basePayment = PaymentChallengeInput{
	PaymentID:   "pay_01JBX5Q0S6V2E8YQH1N4K7M9PA",
	Payer:       "usr_01JBX5Q0S6V2E8YQH1N4K7M9PB",
	Payee:       "usr_01JBX5Q0S6V2E8YQH1N4K7M9PC",
	AmountMinor: 12345,
	Currency:    "CNY",
}

var baseNonce = bytes.Repeat([]byte{0x42}, NonceLen)

// TestPaymentChallengeVector pins the encoding: stored evidence is checked
// by recomputing challenges, so the derivation must never change silently.
// The expected value was computed independently (Python hashlib/struct)
// from the encoding documented on PaymentChallenge.
func TestPaymentChallengeVector(t *testing.T) {
	const want = "63295824362b77a283b19633e24c9798cf7fe65639eaf1559e7344fe2f64e946"
	if got := hex.EncodeToString(PaymentChallenge(basePayment, baseNonce)); got != want {
		t.Fatalf("PaymentChallenge = %s, want %s (changing the encoding needs a new domain version)", got, want)
	}
}

// TestPaymentChallengeBindsEveryField: changing any one field, or the nonce,
// changes the challenge.
func TestPaymentChallengeBindsEveryField(t *testing.T) {
	base := PaymentChallenge(basePayment, baseNonce)
	if !bytes.Equal(base, PaymentChallenge(basePayment, bytes.Clone(baseNonce))) {
		t.Fatal("not deterministic")
	}
	if len(base) != 32 {
		t.Fatalf("challenge has %d bytes, want 32", len(base))
	}
	tests := []struct {
		name   string
		change func(*PaymentChallengeInput, *[]byte)
	}{
		{"payment", func(in *PaymentChallengeInput, _ *[]byte) { in.PaymentID = "pay_01JBX5Q0S6V2E8YQH1N4K7M9PZ" }},
		{"payer", func(in *PaymentChallengeInput, _ *[]byte) { in.Payer = "usr_01JBX5Q0S6V2E8YQH1N4K7M9PZ" }},
		{"payee", func(in *PaymentChallengeInput, _ *[]byte) { in.Payee = "usr_01JBX5Q0S6V2E8YQH1N4K7M9PZ" }},
		{"amount by one fen", func(in *PaymentChallengeInput, _ *[]byte) { in.AmountMinor++ }},
		{"currency", func(in *PaymentChallengeInput, _ *[]byte) { in.Currency = "USD" }},
		{"payer and payee swapped", func(in *PaymentChallengeInput, _ *[]byte) { in.Payer, in.Payee = in.Payee, in.Payer }},
		{"nonce", func(_ *PaymentChallengeInput, n *[]byte) { (*n)[0] ^= 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, nonce := basePayment, bytes.Clone(baseNonce)
			tt.change(&in, &nonce)
			if bytes.Equal(PaymentChallenge(in, nonce), base) {
				t.Fatal("challenge did not change")
			}
		})
	}
}

// TestPaymentChallengeLengthPrefixed: moving bytes between adjacent fields
// changes the challenge (plain concatenation would not).
func TestPaymentChallengeLengthPrefixed(t *testing.T) {
	a, b := basePayment, basePayment
	a.PaymentID, a.Payer = "pay_1usr_", "2"
	b.PaymentID, b.Payer = "pay_1", "usr_2"
	if bytes.Equal(PaymentChallenge(a, baseNonce), PaymentChallenge(b, baseNonce)) {
		t.Fatal("field boundaries are not encoded")
	}
}

func TestPaymentChallengeInputValidate(t *testing.T) {
	tests := []struct {
		name      string
		change    func(*PaymentChallengeInput)
		wantField string
	}{
		{"valid", func(*PaymentChallengeInput) {}, ""},
		{"no payment", func(in *PaymentChallengeInput) { in.PaymentID = "" }, "paymentId"},
		{"bad payer", func(in *PaymentChallengeInput) { in.Payer = "nobody" }, "payerId"},
		{"bad payee", func(in *PaymentChallengeInput) { in.Payee = "" }, "payeeId"},
		{"zero amount", func(in *PaymentChallengeInput) { in.AmountMinor = 0 }, "amount"},
		{"negative amount", func(in *PaymentChallengeInput) { in.AmountMinor = -1 }, "amount"},
		{"lower-case currency", func(in *PaymentChallengeInput) { in.Currency = "cny" }, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := basePayment
			tt.change(&in)
			err := in.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || len(ae.Field) != 2 || ae.Field[1] != tt.wantField {
				t.Fatalf("Validate() = %v, want INVALID_INPUT on %s", err, tt.wantField)
			}
		})
	}
}

func TestCleanNickname(t *testing.T) {
	long := string(bytes.Repeat([]byte("字"), 65))
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"  Pixel 9 ", "Pixel 9", false},
		{"", DefaultNickname, false},
		{"   ", DefaultNickname, false},
		{long[:64*3], long[:64*3], false},
		{long, "", true},
		{"bad\x00name", "", true},
		{"bad\nname", "", true},
		{"\xff\xfe", "", true},
	}
	for _, tt := range tests {
		got, err := cleanNickname(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Fatalf("cleanNickname(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !apperr.Is(err, apperr.InvalidInput) {
			t.Fatalf("cleanNickname(%q): %v, want INVALID_INPUT", tt.in, err)
		}
	}
}
