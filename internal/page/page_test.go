package page

import (
	"slices"
	"testing"

	"danbao/internal/apperr"
)

func TestBound(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name        string
		first, last *int
		wantFirst   *int
		wantLast    *int
		field       string // non-empty: INVALID_INPUT on this argument
	}{
		{name: "neither: default first", wantFirst: n(Default)},
		{name: "first", first: n(5), wantFirst: n(5)},
		{name: "last", last: n(7), wantLast: n(7)},
		{name: "first zero", first: n(0), wantFirst: n(0)},
		{name: "last zero", last: n(0), wantLast: n(0)},
		{name: "first max", first: n(Max), wantFirst: n(Max)},
		{name: "last max", last: n(Max), wantLast: n(Max)},
		{name: "first over max", first: n(Max + 1), field: "first"},
		{name: "first negative", first: n(-1), field: "first"},
		{name: "last over max", last: n(Max + 1), field: "last"},
		{name: "last negative", last: n(-1), field: "last"},
		{name: "both", first: n(1), last: n(1), field: "last"},
		{name: "both, first bad", first: n(101), last: n(1), field: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, l, err := Bound(tt.first, tt.last)
			if tt.field != "" {
				e, ok := apperr.As(err)
				if !ok || e.Code != apperr.InvalidInput || !slices.Equal(e.Field, []string{tt.field}) {
					t.Fatalf("Bound = %v, want INVALID_INPUT on [%s]", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same(f, tt.wantFirst) || !same(l, tt.wantLast) {
				t.Errorf("Bound = %v, %v; want %v, %v", deref(f), deref(l), deref(tt.wantFirst), deref(tt.wantLast))
			}
		})
	}
}

func same(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
