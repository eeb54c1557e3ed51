// Package model holds the GraphQL types that ent does not: gqlgen's
// generated models (models_gen.go) and the hand-written scalars here.
package model

import (
	"encoding/json"
	"fmt"
	"io"

	"danbao/ent/schema/scalar"
	"danbao/internal/apperr"
)

// JSON is the JSON scalar: any JSON value, carried unchanged. WebAuthn
// options go out and credentials come in through it.
type JSON json.RawMessage

// JSONOf marshals v into a JSON scalar value.
func JSONOf(v any) JSON {
	b, err := json.Marshal(v)
	if err != nil {
		return JSON("null")
	}
	return JSON(b)
}

// MarshalGQL implements graphql.Marshaler.
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL implements graphql.Unmarshaler: it accepts any input value
// (an object from variables, or a literal) and keeps it as JSON text. A
// string holding JSON text is also accepted, for clients that serialise
// credentials themselves.
func (j *JSON) UnmarshalGQL(v any) error {
	if s, ok := v.(string); ok && json.Valid([]byte(s)) && len(s) > 0 && (s[0] == '{' || s[0] == '[') {
		*j = JSON(s)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return apperr.New(apperr.InvalidInput, "not a JSON value: %s", fmt.Sprintf("%T", v))
	}
	*j = JSON(b)
	return nil
}

// Decimal, EntryType and EntryDirection are package scalar's (ent's
// ledger entries return them from methods of their own).
type (
	Decimal        = scalar.Decimal
	EntryType      = scalar.EntryType
	EntryDirection = scalar.EntryDirection
)
