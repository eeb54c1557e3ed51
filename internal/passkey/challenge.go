package passkey

import (
	"crypto/sha256"
	"encoding/binary"
	"regexp"

	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// NonceLen is the length of the random nonce of a payment challenge.
const NonceLen = 32

// paymentChallengeDomain separates payment challenges from any other use of
// SHA-256 over similar fields; bump its version if the encoding changes.
const paymentChallengeDomain = "danbao/payment-authorization/v1"

// PaymentChallengeInput is what a payment authorization is bound to. The
// escrow passes the payment's fields at BeginPayment and its current fields
// again at FinishPayment.
type PaymentChallengeInput struct {
	PaymentID   string   // the payment's global ID
	Payer       pulid.ID // the user who pays and must authorize
	Payee       pulid.ID // who receives the money
	AmountMinor int64    // in minor units of Currency, positive
	Currency    string   // ISO 4217, e.g. CNY
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate reports the first malformed field as INVALID_INPUT.
func (in PaymentChallengeInput) Validate() error {
	switch {
	case in.PaymentID == "" || len(in.PaymentID) > 64:
		return apperr.Invalid("paymentId", "payment ID must have 1 to 64 characters")
	case !in.Payer.Valid():
		return apperr.Invalid("payerId", "payer is not a valid ID")
	case !in.Payee.Valid():
		return apperr.Invalid("payeeId", "payee is not a valid ID")
	}
	return validMoney(in.AmountMinor, in.Currency)
}

// validMoney reports a non-positive amount or a malformed currency as
// INVALID_INPUT.
func validMoney(amountMinor int64, currency string) error {
	switch {
	case amountMinor <= 0:
		return apperr.Invalid("amount", "amount must be positive")
	case !currencyCode.MatchString(currency):
		return apperr.Invalid("currency", "currency must be an ISO 4217 code such as CNY")
	}
	return nil
}

// PaymentChallenge derives the WebAuthn challenge that binds an
// authorization to one payment:
//
//	SHA-256(domain || lp(paymentID) || lp(payer) || lp(payee) || be64(amount) || lp(currency) || lp(nonce))
//
// where lp(x) is x's length as a big-endian uint32 followed by x. The length
// prefixes make the encoding injective (no two different inputs encode the
// same), so changing any field changes the challenge; the 32-byte random
// nonce makes it unpredictable and single-use like a library-made one.
func PaymentChallenge(in PaymentChallengeInput, nonce []byte) []byte {
	return boundChallenge(paymentChallengeDomain, []string{in.PaymentID, string(in.Payer), string(in.Payee)},
		in.AmountMinor, in.Currency, nonce)
}

// boundChallenge is SHA-256(lp(domain) || lp(id) for each of ids ||
// be64(amount) || lp(currency) || lp(nonce)): the encoding of every
// operation-bound challenge.
func boundChallenge(domain string, ids []string, amountMinor int64, currency string, nonce []byte) []byte {
	h := sha256.New()
	lp := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	lp([]byte(domain))
	for _, id := range ids {
		lp([]byte(id))
	}
	var amount [8]byte
	binary.BigEndian.PutUint64(amount[:], uint64(amountMinor))
	h.Write(amount[:])
	lp([]byte(currency))
	lp(nonce)
	return h.Sum(nil)
}
