package passkey

import (
	"bytes"
	"testing"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// TestWithdrawalChallengeBindsEveryField: changing the user, the card, the
// amount, the currency or the nonce changes the challenge, and no
// withdrawal challenge equals the payment challenge of the same values.
func TestWithdrawalChallengeBindsEveryField(t *testing.T) {
	nonce := bytes.Repeat([]byte{7}, NonceLen)
	base := WithdrawalChallengeInput{User: pulid.New(pulid.PrefixUser), BankCardID: pulid.New(pulid.PrefixBankCard), AmountMinor: 100_00, Currency: "CNY"}
	want := WithdrawalChallenge(base, nonce)
	for name, change := range map[string]func(*WithdrawalChallengeInput, *[]byte){
		"user":     func(in *WithdrawalChallengeInput, _ *[]byte) { in.User = pulid.New(pulid.PrefixUser) },
		"card":     func(in *WithdrawalChallengeInput, _ *[]byte) { in.BankCardID = pulid.New(pulid.PrefixBankCard) },
		"amount":   func(in *WithdrawalChallengeInput, _ *[]byte) { in.AmountMinor++ },
		"currency": func(in *WithdrawalChallengeInput, _ *[]byte) { in.Currency = "USD" },
		"nonce":    func(_ *WithdrawalChallengeInput, n *[]byte) { *n = bytes.Repeat([]byte{8}, NonceLen) },
	} {
		in, n := base, nonce
		change(&in, &n)
		if bytes.Equal(WithdrawalChallenge(in, n), want) {
			t.Errorf("changing the %s keeps the challenge", name)
		}
	}
	pay := PaymentChallenge(PaymentChallengeInput{PaymentID: string(base.User), Payer: base.BankCardID, Payee: base.BankCardID,
		AmountMinor: base.AmountMinor, Currency: base.Currency}, nonce)
	if bytes.Equal(pay, want) {
		t.Error("a payment challenge equals a withdrawal challenge")
	}
	for _, bad := range []WithdrawalChallengeInput{
		{User: "x", BankCardID: base.BankCardID, AmountMinor: 1, Currency: "CNY"},
		{User: base.User, BankCardID: "", AmountMinor: 1, Currency: "CNY"},
		{User: base.User, BankCardID: base.BankCardID, AmountMinor: 0, Currency: "CNY"},
		{User: base.User, BankCardID: base.BankCardID, AmountMinor: 1, Currency: "cny"},
	} {
		if apperr.CodeOf(bad.Validate()) != apperr.InvalidInput {
			t.Errorf("Validate(%+v) = %v, want INVALID_INPUT", bad, bad.Validate())
		}
	}
}
