// Package auth is who is calling and how they prove it: password sign-in
// with throttling, short-lived ES256 access JWTs (pinned algorithm, issuer,
// audience and expiry required, kid for rotation, public keys as JWKS),
// opaque rotating refresh tokens with reuse detection, and the request
// identity that resolvers consult.
//
// Invariants:
//   - Passwords and refresh tokens are stored only as slow hashes (argon2id)
//     and SHA-256 digests respectively.
//   - A refresh token works once. Presenting a used or revoked token revokes
//     every token of its family, so a stolen token dies with its first reuse.
//   - A token that fails any check (signature, alg, kid, iss, aud, exp)
//     gives no identity: the request is treated as signed out.
package auth
