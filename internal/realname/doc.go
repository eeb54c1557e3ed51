// Package realname is danbao's real-name verification service (see
// docs/design.md, Real-name verification, levels and limits, and Sandbox): users submit their legal name, identity document and
// evidence; a pluggable Verifier (the sandbox one ships) decides at once or
// later; operators review what is left pending. It stores what the pure
// rules of package kyc accept, and answers what level a wallet has and
// whether a bank card's holder is the verified person.
//
// Invariants:
//
//   - Legal names, ID numbers and evidence are stored only encrypted with
//     AES-256-GCM (package vault) under the key version recorded on the row,
//     with associated data binding each ciphertext to its user, its row and
//     its purpose. They are never logged, never returned whole (the API
//     shows the masked forms) and never put in an error message.
//   - One ID number verifies one wallet: a wallet with a PENDING or VERIFIED
//     request holds an IdentityBinding whose keyed blind index of the
//     document type and number is unique. A second wallet asking with the
//     same number gets ALREADY_EXISTS on idNumber; a first request that is
//     rejected frees the number.
//   - A wallet has at most one PENDING request: the binding's
//     pending_verification_id is set and cleared by compare-and-set.
//   - A request moves PENDING → VERIFIED or PENDING → REJECTED exactly once,
//     by compare-and-set on its status, so a verifier's late answer and an
//     operator's review cannot both decide it.
//   - A wallet's level only rises: an approved upgrade raises it, a rejected
//     upgrade leaves it. An upgrade must present the identity the wallet is
//     verified with.
//   - The verifier is consulted after the request is committed and outside
//     any transaction; its failure leaves the request pending for review.
//   - Bad input changes nothing: every refusal happens before or inside the
//     one transaction that stores a request.
package realname
