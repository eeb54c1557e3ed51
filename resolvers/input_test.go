package resolvers

import "testing"

// TestMultilineFields: line breaks and tabs pass only in the fields that
// allow them (and JSON values); NUL and overrides are refused everywhere.
func TestMultilineFields(t *testing.T) {
	w := inputWalker{}
	field := []string{"input", "reason"}
	if err := w.check("line one\n\tline two\r\n", nil, "ReviewVerificationInput.reason", field); err != nil {
		t.Fatalf("multiline reason refused: %v", err)
	}
	for _, c := range []struct{ s, key string }{
		{"a\nb", "RegisterInput.displayName"},
		{"a\x00b", "ReviewVerificationInput.reason"},
		{"a\u202eb", "ReviewVerificationInput.reason"},
		{"a\x1bb", "ReviewVerificationInput.reason"},
	} {
		err := w.check(c.s, nil, c.key, field)
		if err == nil || err.Extensions["code"] != "INVALID_INPUT" {
			t.Errorf("%q in %s: %v", c.s, c.key, err)
		}
	}
}
