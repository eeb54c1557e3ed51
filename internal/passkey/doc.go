// Package passkey is danbao's WebAuthn relying party (see docs/design.md,
// Passkeys and payment authorization):
// passkey registration, revocation and discoverable sign-in, and payment
// authorization whose challenge is bound to the payment. It is built on
// github.com/go-webauthn/webauthn and supplies what that library leaves to
// the relying party.
//
// Options go out as the bare PublicKeyCredentialCreationOptionsJSON /
// PublicKeyCredentialRequestOptionsJSON (what
// PublicKeyCredential.parseCreationOptionsFromJSON and
// parseRequestOptionsFromJSON accept, not go-webauthn's {"publicKey": ...}
// wrapper); responses come in as what PublicKeyCredential.toJSON() produces.
//
// Invariants:
//
//   - Every ceremony's whole SessionData is stored server-side in a
//     passkey_sessions row bound to its purpose (REGISTRATION, LOGIN,
//     PAYMENT) and user, found by the challenge the client echoes in
//     clientDataJSON. A row is used at most once: finishing deletes it first,
//     whatever the outcome (a failed finish leaves the deletion to
//     RecordFailure, which its callers run after rolling back; a payment's
//     session is read and verified outside any transaction by
//     VerifyPayment and deleted by SpendPayment in the caller's, or after
//     a failure by RecordFailure or Discard). It is dead
//     after its expiry (the configured timeout, 5 minutes by default),
//     checked against the stored expiry as well as by go-webauthn; Sweep
//     (housekeeping, not the request path) deletes it a timeout later.
//   - User verification is required in every ceremony, and registration
//     requires a discoverable credential (residentKey "required").
//   - A credential ID is registered at most once, to anyone, ever: revoked
//     passkeys keep their row (ALREADY_EXISTS otherwise).
//   - After every successful use the signature counter, the flags (backup
//     state) and the last use are written back, by compare-and-set on the
//     counter. A counter that does not advance (other than an authenticator
//     that always reports 0) is refused and marks the passkey
//     clone_suspected for good; such a passkey still signs in but never
//     again authorizes a payment.
//   - Revoked passkeys neither sign in nor authorize.
//   - A payment challenge is SHA-256 over a length-prefixed encoding of the
//     payment ID, payer, payee, amount, currency and a 32-byte random nonce
//     (see PaymentChallenge). FinishPayment recomputes it from the payment's
//     current fields and the stored nonce, so an assertion for one payment
//     never authorizes another, nor the same payment with another amount,
//     currency or payee; and only the payer's own active, unsuspected
//     passkeys can answer it.
package passkey
