// Package partner registers partner apps (marketplaces that take payments
// through danbao), authenticates them with OAuth 2.0 client credentials
// (RFC 6749 section 4.4) and records which sellers connected which app.
//
// Invariants:
//   - A client secret is 32 random bytes shown once (at creation or
//     rotation) and stored only as its SHA-256; rotation replaces it, so the
//     old secret stops working at once. Comparison is constant-time.
//   - A partner acts for a seller only while that seller's connection
//     exists and is not revoked; disconnecting takes effect for the next
//     request (tokens carry no seller list).
//   - Partner tokens are signed by the same key as users' access tokens but
//     carry partner=true, the app's id as subject, no role, and scopes; user
//     operations refuse them.
package partner
