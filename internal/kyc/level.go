package kyc

import (
	"fmt"
	"io"
	"strconv"
)

// Level is a wallet's real-name verification level, the PBoC class of its
// payment account (see docs/design.md, Real-name verification, levels and
// limits). Values are stored and exposed through
// the API (enum VerificationLevel), so they are only ever added.
type Level string

// The levels, lowest first.
const (
	// Unverified wallets may neither top up nor pay.
	Unverified Level = "UNVERIFIED"
	// LevelI is verified through one external source (class I account).
	LevelI Level = "I"
	// LevelII is verified through three external sources or face to face
	// (class II account).
	LevelII Level = "II"
	// LevelIII is verified through five external sources or face to face
	// (class III account).
	LevelIII Level = "III"
)

// Levels returns every level, lowest first.
func Levels() []Level { return []Level{Unverified, LevelI, LevelII, LevelIII} }

// Rank orders levels: 0 for Unverified up to 3 for LevelIII, and -1 for a
// value that is not a level.
func (l Level) Rank() int {
	switch l {
	case Unverified:
		return 0
	case LevelI:
		return 1
	case LevelII:
		return 2
	case LevelIII:
		return 3
	}
	return -1
}

// Valid reports whether l is one of the levels.
func (l Level) Valid() bool { return l.Rank() >= 0 }

// AtLeast reports whether l is a valid level no lower than other.
func (l Level) AtLeast(other Level) bool { return l.Valid() && l.Rank() >= other.Rank() }

// Values lists the levels for ent's enum column.
func (Level) Values() []string { return stringsOf(Levels()) }

// MarshalGQL implements graphql.Marshaler (enum VerificationLevel).
func (l Level) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(l))) }

// UnmarshalGQL implements graphql.Unmarshaler (enum VerificationLevel).
func (l *Level) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Level(s).Valid() {
		return fmt.Errorf("not a VerificationLevel")
	}
	*l = Level(s)
	return nil
}

// Status is the state of one verification request: PENDING until a
// verifier or an operator decides, then VERIFIED or REJECTED for good.
// Values are stored and exposed (enum VerificationStatus).
type Status string

// The statuses.
const (
	Pending  Status = "PENDING"
	Verified Status = "VERIFIED"
	Rejected Status = "REJECTED"
)

// Values lists the statuses for ent's enum column.
func (Status) Values() []string { return []string{string(Pending), string(Verified), string(Rejected)} }

// MarshalGQL implements graphql.Marshaler (enum VerificationStatus).
func (s Status) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL implements graphql.Unmarshaler (enum VerificationStatus).
func (s *Status) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	switch Status(str) {
	case Pending, Verified, Rejected:
		if ok {
			*s = Status(str)
			return nil
		}
	}
	return fmt.Errorf("not a VerificationStatus")
}

// IDTypes returns every accepted identity document type.
func IDTypes() []IDType { return []IDType{ResidentID, Passport, HKMacauPermit, TaiwanPermit} }

// Values lists the ID types for ent's enum column.
func (IDType) Values() []string { return stringsOf(IDTypes()) }

// MarshalGQL implements graphql.Marshaler (enum IdType).
func (t IDType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL implements graphql.Unmarshaler (enum IdType). It accepts any
// string so that an unknown type reaches NormalizeIDNumber and is refused
// there as INVALID_INPUT on idType; GraphQL validation refuses unknown enum
// values before that anyway.
func (t *IDType) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("not an IdType")
	}
	*t = IDType(s)
	return nil
}

func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
