package money

import (
	"math/big"
	"strings"
	"testing"

	"danbao/internal/apperr"
)

// FuzzParseAmount checks that ParseAmount never panics, that every error is
// an INVALID_INPUT, that an accepted amount formats and parses back to the
// same value, and that it equals the exact rational value of the input
// (math/big as the oracle), and that an overflow refusal is a real overflow.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"0", "0.01", "12.34", "12.3", "12", "-1", "-0.05", "1.", ".5", "+1",
		"1e3", "1,000", " 1", "1.234", "1..2", "",
		"92233720368547758.07", "92233720368547758.08",
		"-92233720368547758.08", "-92233720368547758.09",
		"9223372036854775807", "9223372036854775808",
	} {
		for i := range len(fuzzCurrencies) {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, s string, ci uint8) {
		c := fuzzCurrencies[int(ci)%len(fuzzCurrencies)]
		v, err := ParseAmount(s, c)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput {
				t.Fatalf("ParseAmount(%q, %s) error %v is not INVALID_INPUT", s, c, err)
			}
			if v != 0 {
				t.Fatalf("ParseAmount(%q, %s) = %d with an error", s, c, v)
			}
			if e.Message == msgTooLarge || e.Message == msgTooSmall {
				if r, ok := exact(s, c); !ok || r.IsInt64() {
					t.Fatalf("ParseAmount(%q, %s) said overflow, exact value %v fits", s, c, r)
				}
			}
			return
		}
		if r, ok := exact(s, c); !ok || !r.IsInt64() || r.Int64() != v {
			t.Fatalf("ParseAmount(%q, %s) = %d, exact value %v", s, c, v, r)
		}
		out := FormatMinor(v, c)
		back, err := ParseAmount(out, c)
		if err != nil || back != v {
			t.Fatalf("ParseAmount(%q, %s) = %d; FormatMinor = %q parses to %d, %v", s, c, v, out, back, err)
		}
		decimals := 0
		if _, frac, ok := strings.Cut(out, "."); ok {
			decimals = len(frac)
		}
		if decimals != c.Digits() {
			t.Fatalf("FormatMinor(%d, %s) = %q, want %d decimals", v, c, out, c.Digits())
		}
	})
}

var fuzzCurrencies = []Currency{CNY, JPY, USD}

// exact returns s, read as a decimal in major units of c, in minor units as
// an exact integer, and false if it is not an integral number of minor units.
func exact(s string, c Currency) (*big.Int, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Digits())), nil)
	r.Mul(r, new(big.Rat).SetInt(scale))
	if !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
}
