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
//   - Every sign-in is a session row (auth_sessions; its ID is the refresh
//     token family and the access tokens' sid claim). Refresh, reuse
//     detection, logout, signOutEverywhere and passkey revocation write
//     that row before anything else, so they are serialised per session on
//     both engines: once a session is revoked, no token of it survives,
//     including one minted by a refresh running at the same moment.
//   - An access token of an ended session still reads until it expires
//     (15 minutes), but every mutation other than signing in and out
//     refuses it (UNAUTHENTICATED, extensions.reason SESSION_REVOKED).
//   - At most HashGate.Slots() argon2id hashes run at once (GOMAXPROCS);
//     a few callers wait, the rest are refused with RATE_LIMITED.
package auth
