// Package kyc holds the pure rules of real-name verification (DESIGN
// section 4): the formats of the identity documents danbao accepts, the
// ISO 7064 MOD 11-2 check digit of PRC resident ID numbers, and how ID
// numbers are masked for display. It has no storage and no ent import.
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
//   - Anything NormalizeIDNumber accepts, it accepts again unchanged.
//   - Every error is an *apperr.Error with code INVALID_INPUT naming the
//     field idNumber (idType for an unknown document type), and no error
//     message ever contains the ID number.
//   - MaskIDNumber never shows more than 7 characters of a number.
package kyc
