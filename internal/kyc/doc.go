// Package kyc holds the pure rules of real-name verification (see
// docs/design.md, Real-name verification, levels and limits): the formats of the identity documents danbao accepts,
// the ISO 7064 MOD 11-2 check digit of PRC resident ID numbers, how ID
// numbers and legal names are validated and masked, the verification levels
// with their rights, evidence requirements and limits (Config, passed in by
// whoever needs it), and the sandbox verifier's deterministic rule. It has
// no storage and no ent import: ent's schema uses its types (Level, Status,
// IDType) for its columns, so it must stay a leaf. The service that stores
// verifications is package realname; the limits service is package limits.
//
// Invariants:
//
//   - NormalizeIDNumber is the only way an ID number enters the system. It
//     trims surrounding white space and otherwise never rewrites its input:
//     a lower-case letter is refused rather than upper-cased, so the stored
//     form and its blind index are unambiguous.
//   - For a resident ID number the shape (18 characters: 17 digits, then a
//     digit or upper-case X) is checked first and the check digit second,
//     before the province code and the birth date.
//   - Anything NormalizeIDNumber accepts, it accepts again unchanged; the
//     same holds for NormalizeLegalName and ValidateRequest.
//   - Every validation error is an *apperr.Error with code INVALID_INPUT
//     naming its input field (idNumber, idType, legalName, targetLevel,
//     evidence), and no error message ever contains the ID number.
//   - MaskIDNumber never shows more than 7 characters of a number;
//     MaskLegalName shows only the first character of a name.
//   - A legal name never contains a digit, so no ID number can be stored in
//     the clear by way of the name.
//   - Levels are totally ordered (Rank); a higher level never needs less
//     evidence than a lower one (Config.Validate).
package kyc
