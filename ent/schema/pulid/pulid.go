// Package pulid implements danbao's global object IDs: a short type prefix,
// an underscore and a ULID ("usr_01J9Z3..."). The prefix lets node(id:)
// find the table without a lookup, the ULID makes IDs unique across tables
// and instances without coordination. IDs are opaque to clients.
package pulid

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID. Its zero value is the empty string.
type ID string

// New returns a fresh ID with the given prefix.
func New(prefix string) ID { return ID(prefix + "_" + ulid.Make().String()) }

// Prefix returns the type prefix of id, or "" when id has none.
func (id ID) Prefix() string {
	p, _, ok := strings.Cut(string(id), "_")
	if !ok {
		return ""
	}
	return p
}

// Valid reports whether id has a prefix and a well-formed ULID.
func (id ID) Valid() bool {
	p, rest, ok := strings.Cut(string(id), "_")
	if !ok || p == "" || len(rest) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*id = ""
	case string:
		*id = ID(v)
	case []byte:
		*id = ID(string(v))
	case ID:
		*id = v
	default:
		return fmt.Errorf("pulid: cannot scan %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) { return string(id), nil }

// UnmarshalGQL implements graphql.Unmarshaler. Any string is accepted here;
// lookups of a malformed ID simply find nothing (NOT_FOUND).
func (id *ID) UnmarshalGQL(v any) error {
	switch s := v.(type) {
	case string:
		*id = ID(s)
	case ID: // gqlgen may hand an already decoded argument back
		*id = s
	default:
		return fmt.Errorf("ID must be a string")
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(id))) }

// The type prefixes of danbao's IDs, one per ent schema. They are declared
// here once: the schemas' ID mixins, the node(id:) lookup and the domain
// code that tells a top-up from a withdrawal by its ID all use these names.
const (
	PrefixAccount           = "acc"
	PrefixAccountControl    = "acl"
	PrefixBankCard          = "card"
	PrefixDailyLimit        = "dly"
	PrefixEvent             = "evt"
	PrefixIdempotencyKey    = "idk"
	PrefixIdentityBinding   = "kyb"
	PrefixLedgerTransaction = "ltx"
	PrefixLimitUsage        = "lmu"
	PrefixPasskey           = "psk"
	PrefixPasskeySession    = "pks"
	PrefixPasskeyUser       = "pku"
	PrefixPasswordFree      = "pfa"
	PrefixPayment           = "pay"
	PrefixPaymentEvent      = "pev"
	PrefixPosting           = "pst"
	PrefixRefreshToken      = "rtk"
	PrefixRiskHold          = "hld"
	PrefixSellerVolume      = "svl"
	PrefixTopUp             = "top"
	PrefixTrustScore        = "trs"
	PrefixUser              = "usr"
	PrefixVerification      = "kyv"
	PrefixWithdrawal        = "wdr"
)
