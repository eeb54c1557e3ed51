package money

import (
	"math"
	"strings"
	"testing"

	"danbao/internal/apperr"
)

// wantInvalid fails t unless err is INVALID_INPUT on the given input field
// with a message containing msg.
func wantInvalid(t *testing.T, err error, field, msg string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("err = %v, want *apperr.Error", err)
	}
	if e.Code != apperr.InvalidInput {
		t.Errorf("code = %s, want %s", e.Code, apperr.InvalidInput)
	}
	if len(e.Field) != 2 || e.Field[0] != "input" || e.Field[1] != field {
		t.Errorf("field = %v, want [input %s]", e.Field, field)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("message = %q, want it to contain %q", e.Message, msg)
	}
}

func TestParseCurrency(t *testing.T) {
	tests := []struct {
		in     string
		want   Currency
		digits int
		err    string
	}{
		{in: "CNY", want: CNY, digits: 2},
		{in: "USD", want: USD, digits: 2},
		{in: "EUR", want: EUR, digits: 2},
		{in: "HKD", want: HKD, digits: 2},
		{in: "GBP", want: GBP, digits: 2},
		{in: "JPY", want: JPY, digits: 0},
		{in: "XYZ", err: `unsupported currency "XYZ"`},
		{in: "cny", err: "unsupported currency"},
		{in: "Cny", err: "unsupported currency"},
		{in: " CNY", err: "unsupported currency"},
		{in: "CNY ", err: "unsupported currency"},
		{in: "CN", err: "unsupported currency"},
		{in: "CNYY", err: "unsupported currency"},
		{in: "", err: "unsupported currency"},
		{in: "RMB", err: "unsupported currency"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCurrency(tt.in)
			if tt.err != "" {
				wantInvalid(t, err, "currency", tt.err)
				if got != "" {
					t.Errorf("currency = %q on error, want empty", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCurrency(%q): %v", tt.in, err)
			}
			if got != tt.want || got.Digits() != tt.digits || !got.Supported() {
				t.Errorf("ParseCurrency(%q) = %q digits %d, want %q digits %d", tt.in, got, got.Digits(), tt.want, tt.digits)
			}
		})
	}
}

func TestCurrencies(t *testing.T) {
	cs := Currencies()
	if len(cs) != len(digits) {
		t.Fatalf("Currencies() has %d entries, registry %d", len(cs), len(digits))
	}
	for i, c := range cs {
		if i > 0 && cs[i-1] >= c {
			t.Errorf("Currencies() not sorted: %v", cs)
		}
		if got, err := ParseCurrency(string(c)); err != nil || got != c {
			t.Errorf("ParseCurrency(%q) = %q, %v", c, got, err)
		}
	}
	if Currency("XYZ").Digits() != -1 || Currency("XYZ").Supported() {
		t.Error("unsupported currency reports digits or support")
	}
}

func TestParseAmountAccepts(t *testing.T) {
	tests := []struct {
		in   string
		c    Currency
		want int64
	}{
		{"12.34", CNY, 1234},
		{"12", CNY, 1200},
		{"12.3", CNY, 1230},
		{"0.01", CNY, 1},
		{"0", CNY, 0},
		{"0.00", CNY, 0},
		{"-0", CNY, 0},
		{"-1", CNY, -100},
		{"-0.05", CNY, -5},
		{"007.50", CNY, 750},
		{"100.00", USD, 10000},
		{"1200", JPY, 1200},
		{"0", JPY, 0},
		{"-7", JPY, -7},
		// The int64 boundaries, exactly.
		{"92233720368547758.07", CNY, math.MaxInt64},
		{"-92233720368547758.08", CNY, math.MinInt64},
		{"-92233720368547758.07", CNY, math.MinInt64 + 1},
		{"9223372036854775807", JPY, math.MaxInt64},
		{"-9223372036854775808", JPY, math.MinInt64},
		{"00000000000000000000092233720368547758.07", CNY, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(string(tt.c)+" "+tt.in, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.c)
			if err != nil {
				t.Fatalf("ParseAmount(%q, %s): %v", tt.in, tt.c, err)
			}
			if got != tt.want {
				t.Errorf("ParseAmount(%q, %s) = %d, want %d", tt.in, tt.c, got, tt.want)
			}
		})
	}
}

func TestParseAmountRefuses(t *testing.T) {
	const syntax = "must be a plain decimal number"
	tests := []struct {
		name  string
		in    string
		c     Currency
		field string
		msg   string
	}{
		{"empty", "", CNY, "amount", "amount is required"},
		{"plus sign", "+1", CNY, "amount", syntax},
		{"minus only", "-", CNY, "amount", syntax},
		{"double minus", "--1", CNY, "amount", syntax},
		{"minus plus", "-+1", CNY, "amount", syntax},
		{"exponent", "1e3", CNY, "amount", syntax},
		{"exponent upper", "1E3", CNY, "amount", syntax},
		{"exponent after dot", "1.5e2", CNY, "amount", syntax},
		{"leading space", " 1", CNY, "amount", syntax},
		{"trailing space", "1 ", CNY, "amount", syntax},
		{"inner space", "1 000", CNY, "amount", syntax},
		{"tab", "1\t", CNY, "amount", syntax},
		{"comma group", "1,000.00", CNY, "amount", syntax},
		{"comma decimal", "1,5", CNY, "amount", syntax},
		{"letters", "abc", CNY, "amount", syntax},
		{"trailing letter", "12a", CNY, "amount", syntax},
		{"hex", "0x10", CNY, "amount", syntax},
		{"underscore", "1_000", CNY, "amount", syntax},
		{"inf", "Inf", CNY, "amount", syntax},
		{"nan", "NaN", CNY, "amount", syntax},
		{"currency symbol", "¥1", CNY, "amount", syntax},
		{"full-width digit", "１", CNY, "amount", syntax},
		{"arabic-indic digit", "١", CNY, "amount", syntax},
		{"two dots", "1.2.3", CNY, "amount", syntax},
		{"two dots adjacent", "1..2", CNY, "amount", syntax},
		{"leading dot", ".5", CNY, "amount", syntax},
		{"negative leading dot", "-.5", CNY, "amount", syntax},
		{"trailing dot", "1.", CNY, "amount", syntax},
		{"dot only", ".", CNY, "amount", syntax},
		{"NUL byte", "1\x00", CNY, "amount", syntax},
		{"three decimals CNY", "1.234", CNY, "amount", "too many decimal places: CNY allows 2"},
		{"trailing zero decimal CNY", "1.230", CNY, "amount", "too many decimal places"},
		{"decimals JPY", "1.5", JPY, "amount", "too many decimal places: JPY allows 0"},
		{"zero decimals JPY", "1.0", JPY, "amount", "too many decimal places: JPY allows 0"},
		{"malformed before decimals", "1.2x4", CNY, "amount", syntax},
		{"max plus one fen", "92233720368547758.08", CNY, "amount", "amount too large"},
		{"max plus one yuan", "92233720368547759", CNY, "amount", "amount too large"},
		{"min minus one fen", "-92233720368547758.09", CNY, "amount", "amount too small"},
		{"max plus one yen", "9223372036854775808", JPY, "amount", "amount too large"},
		{"huge", strings.Repeat("9", 400), CNY, "amount", "amount too large"},
		{"malformed and huge", strings.Repeat("9", 40) + "x", CNY, "amount", syntax},
		{"unsupported currency", "1.00", "XYZ", "currency", "unsupported currency"},
		{"empty currency", "1.00", "", "currency", "unsupported currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.c)
			if err == nil {
				t.Fatalf("ParseAmount(%q, %s) = %d, want error", tt.in, tt.c, got)
			}
			wantInvalid(t, err, tt.field, tt.msg)
			if got != 0 {
				t.Errorf("value = %d on error, want 0", got)
			}
		})
	}
}

func TestParsePositive(t *testing.T) {
	const notPositive = "amount must be greater than zero"
	tests := []struct {
		in   string
		c    Currency
		want int64
		msg  string
	}{
		{in: "0.01", c: CNY, want: 1},
		{in: "12.34", c: CNY, want: 1234},
		{in: "1", c: JPY, want: 1},
		{in: "10000000000000", c: CNY, want: MaxMinor},
		{in: "10000000000000.00", c: CNY, want: MaxMinor},
		{in: "1000000000000000", c: JPY, want: MaxMinor},
		{in: "0", c: CNY, msg: notPositive},
		{in: "0.00", c: CNY, msg: notPositive},
		{in: "-0", c: CNY, msg: notPositive},
		{in: "-0.01", c: CNY, msg: notPositive},
		{in: "-1", c: JPY, msg: notPositive},
		{in: "-" + strings.Repeat("9", 30), c: CNY, msg: notPositive},
		{in: "10000000000000.01", c: CNY, msg: "amount too large"},
		{in: "1000000000000001", c: JPY, msg: "amount too large"},
		{in: "92233720368547758.07", c: CNY, msg: "amount too large"},
		{in: "92233720368547758.08", c: CNY, msg: "amount too large"},
		{in: "", c: CNY, msg: "amount is required"},
		{in: "+1", c: CNY, msg: "must be a plain decimal number"},
		{in: "1.234", c: CNY, msg: "too many decimal places"},
	}
	for _, tt := range tests {
		t.Run(string(tt.c)+" "+tt.in, func(t *testing.T) {
			got, err := ParsePositive(tt.in, tt.c)
			if tt.msg != "" {
				wantInvalid(t, err, "amount", tt.msg)
				return
			}
			if err != nil {
				t.Fatalf("ParsePositive(%q, %s): %v", tt.in, tt.c, err)
			}
			if got != tt.want {
				t.Errorf("ParsePositive(%q, %s) = %d, want %d", tt.in, tt.c, got, tt.want)
			}
		})
	}
	if _, err := ParsePositive("1", "XYZ"); err == nil {
		t.Error("ParsePositive accepted an unsupported currency")
	} else {
		wantInvalid(t, err, "currency", "unsupported currency")
	}
}

func TestFormatMinorRoundTrip(t *testing.T) {
	tests := []struct {
		minor int64
		c     Currency
		want  string
	}{
		{0, CNY, "0.00"},
		{1, CNY, "0.01"},
		{10, CNY, "0.10"},
		{99, CNY, "0.99"},
		{100, CNY, "1.00"},
		{10000, CNY, "100.00"},
		{123456, USD, "1234.56"},
		{-5, CNY, "-0.05"},
		{-100, EUR, "-1.00"},
		{-123456, HKD, "-1234.56"},
		{0, JPY, "0"},
		{1200, JPY, "1200"},
		{-7, JPY, "-7"},
		{MaxMinor, CNY, "10000000000000.00"},
		{math.MaxInt64, CNY, "92233720368547758.07"},
		{math.MinInt64, CNY, "-92233720368547758.08"},
		{math.MinInt64 + 1, CNY, "-92233720368547758.07"},
		{math.MaxInt64, JPY, "9223372036854775807"},
		{math.MinInt64, JPY, "-9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.want+" "+string(tt.c), func(t *testing.T) {
			got := FormatMinor(tt.minor, tt.c)
			if got != tt.want {
				t.Fatalf("FormatMinor(%d, %s) = %q, want %q", tt.minor, tt.c, got, tt.want)
			}
			if s := (Amount{Minor: tt.minor, Currency: tt.c}).String(); s != tt.want {
				t.Errorf("Amount.String() = %q, want %q", s, tt.want)
			}
			back, err := ParseAmount(got, tt.c)
			if err != nil || back != tt.minor {
				t.Errorf("ParseAmount(%q, %s) = %d, %v, want %d", got, tt.c, back, err, tt.minor)
			}
		})
	}
}

func TestFormatMinorUnsupportedCurrency(t *testing.T) {
	for _, tt := range []struct {
		minor int64
		want  string
	}{
		{1234, "1234"},
		{-5, "-5"},
		{math.MinInt64, "-9223372036854775808"},
	} {
		if got := FormatMinor(tt.minor, "XYZ"); got != tt.want {
			t.Errorf("FormatMinor(%d, XYZ) = %q, want %q", tt.minor, got, tt.want)
		}
	}
}

func TestAddSub(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	tests := []struct {
		name  string
		a, b  int64
		add   int64
		addOK bool
		sub   int64
		subOK bool
	}{
		{"small", 2, 3, 5, true, -1, true},
		{"zero", 0, 0, 0, true, 0, true},
		{"mixed signs", -7, 3, -4, true, -10, true},
		{"max plus zero", maxI, 0, maxI, true, maxI, true},
		{"max plus one", maxI, 1, 0, false, maxI - 1, true},
		{"max plus max", maxI, maxI, 0, false, 0, true},
		{"max minus minus one", maxI, -1, maxI - 1, true, 0, false},
		{"min plus minus one", minI, -1, 0, false, minI + 1, true},
		{"min plus min", minI, minI, 0, false, 0, true},
		{"min minus one", minI, 1, minI + 1, true, 0, false},
		{"min plus max", minI, maxI, -1, true, 0, false},
		{"zero minus min", 0, minI, minI, true, 0, false},
		{"minus one minus min", -1, minI, 0, false, maxI, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := Add(tt.a, tt.b); got != tt.add || ok != tt.addOK {
				t.Errorf("Add(%d, %d) = %d, %v, want %d, %v", tt.a, tt.b, got, ok, tt.add, tt.addOK)
			}
			if got, ok := Sub(tt.a, tt.b); got != tt.sub || ok != tt.subOK {
				t.Errorf("Sub(%d, %d) = %d, %v, want %d, %v", tt.a, tt.b, got, ok, tt.sub, tt.subOK)
			}
		})
	}
}
