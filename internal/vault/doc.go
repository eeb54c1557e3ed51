// Package vault encrypts sensitive strings at rest (ID numbers; see
// docs/design.md, Real-name verification, levels and limits) with authenticated encryption under rotatable keys, and derives
// keyed blind indexes so that equal values can be found by a database index
// without decrypting anything. It has no storage and no ent import.
//
// Invariants:
//
//   - Ciphertext is AES-256-GCM: a fresh random 12-byte nonce followed by the
//     sealed plaintext and its 16-byte tag. The key version is stored beside
//     the ciphertext, not inside it, and the caller passes it back to
//     Decrypt.
//   - Associated data binds a ciphertext to its row and purpose (for example
//     "user:42:idNumber"); a ciphertext moved to another row, or altered in
//     any byte, fails to decrypt rather than yielding wrong plaintext.
//   - New ciphertext is always written under the current (highest parsed)
//     key version; every older version stays able to decrypt until the
//     operator removes it, after re-encrypting the rows NeedsRotation flags.
//   - A blind index is HMAC-SHA256 under a key separate from the data keys,
//     over purpose, a zero byte, then the value. The index key is not
//     versioned: changing it means recomputing every stored index.
//   - A Keyring never prints key material: under every fmt verb it shows
//     only its versions.
package vault
