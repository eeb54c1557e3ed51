package wallet

import (
	"testing"
	"time"

	"danbao/internal/apperr"
)

func TestSafeCell(t *testing.T) {
	cases := map[string]string{
		"":                  "",
		"Li Lei":            "Li Lei",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+86 139":           "'+86 139",
		"-1":                "'-1",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tcmd":             "'\tcmd",
		"\rcmd":             "'\rcmd",
		"a=b":               "a=b",
		"12.34":             "12.34",
	}
	for in, want := range cases {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckStatement(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	cases := []struct {
		name  string
		q     StatementQuery
		field string // "" when valid
	}{
		{"a day", StatementQuery{From: now.Add(-day), To: now, Currency: "CNY"}, ""},
		{"366 days", StatementQuery{From: now.Add(-366 * day), To: now, Currency: "CNY"}, ""},
		{"366 days and a second", StatementQuery{From: now.Add(-366*day - time.Second), To: now, Currency: "CNY"}, "to"},
		{"empty", StatementQuery{From: now, To: now, Currency: "CNY"}, "to"},
		{"backwards", StatementQuery{From: now, To: now.Add(-time.Second), Currency: "CNY"}, "to"},
		{"unknown currency", StatementQuery{From: now.Add(-day), To: now, Currency: "XXX"}, "currency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := checkStatement(c.q)
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.InvalidInput || len(ae.Field) == 0 || ae.Field[len(ae.Field)-1] != c.field {
				t.Fatalf("got %v, want INVALID_INPUT on %s", err, c.field)
			}
		})
	}
}
