package scalar

import (
	"testing"

	"danbao/internal/apperr"
)

// TestUnmarshalEnums: a name of the enum is accepted; anything else (an
// unknown name, a number) is INVALID_INPUT and leaves no valid value.
func TestUnmarshalEnums(t *testing.T) {
	var ty EntryType
	if err := ty.UnmarshalGQL("TRANSFER"); err != nil || ty != EntryTypeTransfer {
		t.Fatalf("TRANSFER: %v %q", err, ty)
	}
	var d EntryDirection
	if err := d.UnmarshalGQL("DEBIT"); err != nil || d != EntryDirectionDebit {
		t.Fatalf("DEBIT: %v %q", err, d)
	}
	for _, v := range []any{"transfer", "", 3, nil} {
		if err := ty.UnmarshalGQL(v); !apperr.Is(err, apperr.InvalidInput) {
			t.Errorf("EntryType %v: %v, want INVALID_INPUT", v, err)
		}
		if err := d.UnmarshalGQL(v); !apperr.Is(err, apperr.InvalidInput) {
			t.Errorf("EntryDirection %v: %v, want INVALID_INPUT", v, err)
		}
	}
}
