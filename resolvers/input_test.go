package resolvers

import (
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// TestMultilineFields: line breaks and tabs pass only in the fields that
// allow them (and JSON values); NUL and overrides are refused everywhere.
func TestMultilineFields(t *testing.T) {
	w := inputWalker{path: []pathElem{{name: "input"}, {name: "reason"}}}
	if err := w.check("line one\n\tline two\r\n", nil, "ReviewVerificationInput.reason"); err != nil {
		t.Fatalf("multiline reason refused: %v", err)
	}
	for _, c := range []struct{ s, key string }{
		{"a\nb", "RegisterInput.displayName"},
		{"a\x00b", "ReviewVerificationInput.reason"},
		{"a\u202eb", "ReviewVerificationInput.reason"},
		{"a\x1bb", "ReviewVerificationInput.reason"},
	} {
		err := w.check(c.s, nil, c.key)
		if err == nil || err.Extensions["code"] != "INVALID_INPUT" {
			t.Errorf("%q in %s: %v", c.s, c.key, err)
		}
	}
}

// TestInputPathNamesTheElement: a refusal deep in a list names the path to
// the element, and the walk's path is not disturbed by earlier siblings.
func TestInputPathNamesTheElement(t *testing.T) {
	w := inputWalker{path: []pathElem{{name: "input"}}}
	v := map[string]any{"items": []any{"ok", map[string]any{"a": "fine"}, map[string]any{"b": "x\u2066y"}}}
	err := w.value(v, &ast.Type{NamedType: "JSON"}, "")
	if err == nil {
		t.Fatal("not refused")
	}
	got, _ := err.Extensions["field"].([]string)
	if !slices.Equal(got, []string{"input", "items", "2", "b"}) {
		t.Fatalf("field %v", got)
	}
}

// BenchmarkInputRuleLargeList walks a 520,000-element list of short
// strings, about the largest a 1 MiB body can carry.
func BenchmarkInputRuleLargeList(b *testing.B) {
	list := make([]any, 520_000)
	for i := range list {
		list[i] = "a"
	}
	vars := map[string]any{"input": map[string]any{"items": list}}
	t := &ast.Type{NamedType: "JSON", NonNull: true}
	w := inputWalker{}
	b.ReportAllocs()
	for b.Loop() {
		w.path = []pathElem{{name: "input"}}
		if err := w.value(vars["input"], t, ""); err != nil {
			b.Fatal(err)
		}
	}
}
