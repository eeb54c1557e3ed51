// Package softauthn is a software passkey authenticator for tests and the load
// tool. It plays the part of a browser and a platform authenticator together:
// it takes the WebAuthn options a relying party sends
// (PublicKeyCredentialCreationOptionsJSON / PublicKeyCredentialRequestOptionsJSON,
// bare or wrapped in {"publicKey": ...}) and answers with exactly the JSON that
// a browser's PublicKeyCredential.toJSON() produces, so the server can be
// driven end to end without a browser.
//
// Invariants:
//
//   - Every credential is an ECDSA P-256 key (COSE alg -7, ES256) with
//     attestation format "none", AAGUID all zero and transports
//     ["internal", "hybrid"], like a synced platform passkey.
//   - Binary fields in the JSON are base64url without padding; clientDataJSON
//     members are written in the browser's order (type, challenge, origin,
//     crossOrigin).
//   - By default responses are honest: UP and UV set, the right RP ID hash, the
//     challenge and origin as asked, a sign counter that only goes up. Every
//     deviation is opt-in through RegisterOptions or AssertOptions, so a test
//     that wants a bad response says so.
//   - Credential IDs are unique within one Authenticator: registering with an
//     ID it already holds replaces the old credential.
//   - An Authenticator is safe for concurrent use; its credentials are only
//     reached through copies, so callers never race with its counters.
//     Set Origin before sharing an Authenticator between goroutines.
//
// The package itself uses only the standard library (the two CBOR structures
// it emits are written by hand), so the load tool can link it without the
// WebAuthn library; the tests check its output against go-webauthn.
//
// Unlike a browser, softauthn does not check that the RP ID is a registrable
// suffix of the origin: a test that wants a mismatch can have one.
package softauthn
