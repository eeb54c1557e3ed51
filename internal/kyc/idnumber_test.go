package kyc

import (
	"slices"
	"strings"
	"testing"
	"time"

	"danbao/internal/apperr"
)

// testNow is the clock of every test: 2025-06-15 12:00 UTC, which is
// 2025-06-15 20:00 in China Standard Time.
var testNow = time.Date(2025, time.June, 15, 12, 0, 0, 0, time.UTC)

// withCheck appends the correct check character to 17 digits, so that the
// tables can name numbers that fail a later check (region, date) only.
func withCheck(first17 string) string {
	c, err := CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// withWrongCheck appends a check character that is certainly wrong.
func withWrongCheck(first17 string) string {
	c, err := CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	if c == '0' {
		return first17 + "1"
	}
	return first17 + "0"
}

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		name    string
		first17 string
		want    byte
		wantErr bool
	}{
		{name: "published example ending in X", first17: "11010519491231002", want: 'X'},
		{name: "published example ending in 4", first17: "44052418800101001", want: '4'},
		{name: "all zeros gives remainder 0", first17: "00000000000000000", want: '1'},
		{name: "remainder 1 gives 0", first17: "00000001000000000", want: '0'},
		{name: "too short", first17: "1101051949123100", wantErr: true},
		{name: "too long", first17: "110105194912310021", wantErr: true},
		{name: "not digits", first17: "1101051949123100A", wantErr: true},
		{name: "empty", first17: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckDigit(tt.first17)
			if tt.wantErr {
				if apperr.CodeOf(err) != apperr.InvalidInput {
					t.Fatalf("CheckDigit(%q) error = %v, want INVALID_INPUT", tt.first17, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckDigit(%q) error = %v", tt.first17, err)
			}
			if got != tt.want {
				t.Errorf("CheckDigit(%q) = %q, want %q", tt.first17, got, tt.want)
			}
		})
	}
}

func TestNormalizeIDNumber(t *testing.T) {
	tests := []struct {
		name string
		typ  IDType
		raw  string
		now  time.Time // testNow when zero
		want string    // the normalized number, when no error is expected
		// When an error is expected: the field it names and a fragment of
		// its message (which also pins the order of the checks).
		wantField string
		wantMsg   string
	}{
		// Resident ID numbers that pass.
		{name: "published example X", typ: ResidentID, raw: "11010519491231002X", want: "11010519491231002X"},
		{name: "digit check character", typ: ResidentID, raw: "440524198001010064", want: "440524198001010064"},
		{name: "computed check digit", typ: ResidentID, raw: withCheck("32010219851112123"), want: withCheck("32010219851112123")},
		{name: "surrounding spaces trimmed", typ: ResidentID, raw: "  11010519491231002X\t\n", want: "11010519491231002X"},
		{name: "ideographic space trimmed", typ: ResidentID, raw: "\u300011010519491231002X", want: "11010519491231002X"},
		{name: "leap day 2000", typ: ResidentID, raw: withCheck("11010520000229001"), want: withCheck("11010520000229001")},
		{name: "earliest date 1900-01-01", typ: ResidentID, raw: withCheck("11010519000101001"), want: withCheck("11010519000101001")},
		{name: "born today", typ: ResidentID, raw: withCheck("11010520250615001"), want: withCheck("11010520250615001")},
		{
			name: "born today in China while still yesterday in UTC",
			typ:  ResidentID, raw: withCheck("11010520250616001"),
			now:  time.Date(2025, time.June, 15, 20, 0, 0, 0, time.UTC),
			want: withCheck("11010520250616001"),
		},
		{name: "Taiwan code 71", typ: ResidentID, raw: withCheck("71000019900101001"), want: withCheck("71000019900101001")},
		{name: "Hong Kong code 81", typ: ResidentID, raw: withCheck("81000019900101001"), want: withCheck("81000019900101001")},
		{name: "Macao code 82", typ: ResidentID, raw: withCheck("82000019900101001"), want: withCheck("82000019900101001")},
		{name: "last province code 65", typ: ResidentID, raw: withCheck("65010219900101001"), want: withCheck("65010219900101001")},

		// Resident ID numbers refused for their shape.
		{name: "empty", typ: ResidentID, raw: "", wantField: "idNumber", wantMsg: "required"},
		{name: "only spaces", typ: ResidentID, raw: "   ", wantField: "idNumber", wantMsg: "required"},
		{name: "17 characters", typ: ResidentID, raw: "11010519491231002", wantField: "idNumber", wantMsg: "18 characters"},
		{name: "19 characters", typ: ResidentID, raw: "11010519491231002X1", wantField: "idNumber", wantMsg: "18 characters"},
		{name: "old 15-digit card", typ: ResidentID, raw: "110105491231002", wantField: "idNumber", wantMsg: "18 characters"},
		{name: "full-width digits", typ: ResidentID, raw: "１１０１０５１９４９１２３１００２Ｘ", wantField: "idNumber", wantMsg: "18 characters"},
		{name: "letter in the body", typ: ResidentID, raw: "1101051949123100AX", wantField: "idNumber", wantMsg: "17 digits"},
		{name: "inner space", typ: ResidentID, raw: "110105 9491231002X", wantField: "idNumber", wantMsg: "17 digits"},
		{name: "X not last", typ: ResidentID, raw: "X10105194912310020", wantField: "idNumber", wantMsg: "17 digits"},
		{name: "last character Y", typ: ResidentID, raw: "11010519491231002Y", wantField: "idNumber", wantMsg: "17 digits"},
		{name: "lower-case x refused", typ: ResidentID, raw: "11010519491231002x", wantField: "idNumber", wantMsg: "upper-case X"},

		// Resident ID numbers refused for their check digit.
		{name: "wrong check digit", typ: ResidentID, raw: "110105194912310021", wantField: "idNumber", wantMsg: "check digit"},
		{name: "X where a digit belongs", typ: ResidentID, raw: "44052418800101001X", wantField: "idNumber", wantMsg: "check digit"},
		{name: "transposed digits", typ: ResidentID, raw: "11010519492131002X", wantField: "idNumber", wantMsg: "check digit"},
		{name: "check digit before region", typ: ResidentID, raw: withWrongCheck("99010519491231002"), wantField: "idNumber", wantMsg: "check digit"},
		{name: "check digit before date", typ: ResidentID, raw: withWrongCheck("11010519491301002"), wantField: "idNumber", wantMsg: "check digit"},

		// Resident ID numbers refused for their province code.
		{name: "region 99", typ: ResidentID, raw: withCheck("99010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region 00", typ: ResidentID, raw: withCheck("00010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region 16", typ: ResidentID, raw: withCheck("16010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region 38", typ: ResidentID, raw: withCheck("38010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region 66", typ: ResidentID, raw: withCheck("66010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region 84", typ: ResidentID, raw: withCheck("84010519491231002"), wantField: "idNumber", wantMsg: "province code"},
		{name: "region before date", typ: ResidentID, raw: withCheck("99010519491301002"), wantField: "idNumber", wantMsg: "province code"},

		// Resident ID numbers refused for their birth date.
		{name: "February 30", typ: ResidentID, raw: withCheck("11010519490230002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "February 29 in 1900", typ: ResidentID, raw: withCheck("11010519000229002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "February 29 in 2023", typ: ResidentID, raw: withCheck("11010520230229002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "month 13", typ: ResidentID, raw: withCheck("11010519491301002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "month 00", typ: ResidentID, raw: withCheck("11010519490001002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "day 00", typ: ResidentID, raw: withCheck("11010519491200002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "April 31", typ: ResidentID, raw: withCheck("11010519490431002"), wantField: "idNumber", wantMsg: "valid birth date"},
		{name: "year 0000", typ: ResidentID, raw: withCheck("11010500000101002"), wantField: "idNumber", wantMsg: "before 1900"},
		// The published example 440524188001010014 has a correct check digit
		// but a birth date in 1880, before the floor of 1900.
		{name: "published example from 1880", typ: ResidentID, raw: "440524188001010014", wantField: "idNumber", wantMsg: "before 1900"},
		{name: "1899-12-31", typ: ResidentID, raw: withCheck("11010518991231002"), wantField: "idNumber", wantMsg: "before 1900"},
		{name: "tomorrow", typ: ResidentID, raw: withCheck("11010520250616002"), wantField: "idNumber", wantMsg: "future"},
		{name: "far future", typ: ResidentID, raw: withCheck("11010530000101002"), wantField: "idNumber", wantMsg: "future"},

		// Passports.
		{name: "PRC passport E", typ: Passport, raw: "E12345678", want: "E12345678"},
		{name: "PRC passport G", typ: Passport, raw: "G12345678", want: "G12345678"},
		{name: "PRC passport E and letter", typ: Passport, raw: "EA1234567", want: "EA1234567"},
		{name: "six digits", typ: Passport, raw: "123456", want: "123456"},
		{name: "nine alphanumerics", typ: Passport, raw: "AB1234567", want: "AB1234567"},
		{name: "passport trimmed", typ: Passport, raw: " X1234567 ", want: "X1234567"},
		{name: "passport lower case", typ: Passport, raw: "e12345678", wantField: "idNumber", wantMsg: "upper-case"},
		{name: "passport without digit", typ: Passport, raw: "ABCDEFG", wantField: "idNumber", wantMsg: "at least one digit"},
		{name: "passport too short", typ: Passport, raw: "E1234", wantField: "idNumber", wantMsg: "6 to 9"},
		{name: "passport too long", typ: Passport, raw: "E123456789", wantField: "idNumber", wantMsg: "6 to 9"},
		{name: "passport punctuation", typ: Passport, raw: "E1234-567", wantField: "idNumber", wantMsg: "only upper-case letters and digits"},
		{name: "passport inner space", typ: Passport, raw: "E1234 567", wantField: "idNumber", wantMsg: "only upper-case letters and digits"},
		{name: "passport empty", typ: Passport, raw: "", wantField: "idNumber", wantMsg: "required"},

		// Hong Kong and Macao permits.
		{name: "HK permit 8 digits", typ: HKMacauPermit, raw: "H12345678", want: "H12345678"},
		{name: "Macao permit 8 digits", typ: HKMacauPermit, raw: "M12345678", want: "M12345678"},
		{name: "HK permit 10 digits", typ: HKMacauPermit, raw: "H1234567890", want: "H1234567890"},
		{name: "HK permit lower case", typ: HKMacauPermit, raw: "h12345678", wantField: "idNumber", wantMsg: "H or M"},
		{name: "HK permit 7 digits", typ: HKMacauPermit, raw: "H1234567", wantField: "idNumber", wantMsg: "H or M"},
		{name: "HK permit 9 digits", typ: HKMacauPermit, raw: "H123456789", wantField: "idNumber", wantMsg: "H or M"},
		{name: "HK permit wrong letter", typ: HKMacauPermit, raw: "K12345678", wantField: "idNumber", wantMsg: "H or M"},
		{name: "HK permit trailing letter", typ: HKMacauPermit, raw: "H1234567A", wantField: "idNumber", wantMsg: "H or M"},

		// Taiwan permits.
		{name: "Taiwan permit", typ: TaiwanPermit, raw: "12345678", want: "12345678"},
		{name: "Taiwan permit 7 digits", typ: TaiwanPermit, raw: "1234567", wantField: "idNumber", wantMsg: "8 digits"},
		{name: "Taiwan permit 9 digits", typ: TaiwanPermit, raw: "123456789", wantField: "idNumber", wantMsg: "8 digits"},
		{name: "Taiwan permit letter", typ: TaiwanPermit, raw: "1234567A", wantField: "idNumber", wantMsg: "8 digits"},

		// Unknown document types.
		{name: "unknown type", typ: IDType("DRIVER_LICENSE"), raw: "11010519491231002X", wantField: "idType", wantMsg: "unknown ID type"},
		{name: "empty type", typ: IDType(""), raw: "11010519491231002X", wantField: "idType", wantMsg: "unknown ID type"},
		{name: "lower-case type", typ: IDType("resident_id"), raw: "11010519491231002X", wantField: "idType", wantMsg: "unknown ID type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			got, err := NormalizeIDNumber(tt.typ, tt.raw, now)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("NormalizeIDNumber(%s, %q) error = %v", tt.typ, tt.raw, err)
				}
				if got != tt.want {
					t.Errorf("NormalizeIDNumber(%s, %q) = %q, want %q", tt.typ, tt.raw, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NormalizeIDNumber(%s, %q) = %q, want an error", tt.typ, tt.raw, got)
			}
			if got != "" {
				t.Errorf("NormalizeIDNumber(%s, %q) returned %q with its error", tt.typ, tt.raw, got)
			}
			if code := apperr.CodeOf(err); code != apperr.InvalidInput {
				t.Errorf("code = %s, want %s", code, apperr.InvalidInput)
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("error %T is not an *apperr.Error", err)
			}
			if want := []string{"input", tt.wantField}; !slices.Equal(e.Field, want) {
				t.Errorf("field = %v, want %v", e.Field, want)
			}
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", e.Message, tt.wantMsg)
			}
			if number := strings.TrimSpace(tt.raw); number != "" {
				for _, s := range []string{e.Message, err.Error()} {
					if strings.Contains(s, number) {
						t.Errorf("error %q contains the ID number", s)
					}
				}
			}
		})
	}
}

func TestBirthDate(t *testing.T) {
	tests := []struct {
		name   string
		number string
		want   time.Time
		wantOK bool
	}{
		{name: "published example", number: "11010519491231002X", want: time.Date(1949, time.December, 31, 0, 0, 0, 0, time.UTC), wantOK: true},
		{name: "1880", number: "440524188001010014", want: time.Date(1880, time.January, 1, 0, 0, 0, 0, time.UTC), wantOK: true},
		{name: "leap day", number: withCheck("11010520000229001"), want: time.Date(2000, time.February, 29, 0, 0, 0, 0, time.UTC), wantOK: true},
		{name: "February 30", number: withCheck("11010519490230002")},
		{name: "month 13", number: withCheck("11010519491301002")},
		{name: "letters in the date", number: "110105194A1231002X"},
		{name: "too short", number: "11010519491231"},
		{name: "empty", number: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := BirthDate(tt.number)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("BirthDate(%q) = %v, %v; want %v, %v", tt.number, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMaskIDNumber(t *testing.T) {
	tests := []struct {
		name   string
		number string
		want   string
	}{
		{name: "resident ID", number: "11010519491231002X", want: "110***********002X"},
		{name: "resident ID digit", number: "440524188001010014", want: "440***********0014"},
		{name: "passport", number: "E12345678", want: "E******78"},
		{name: "HK permit 10 digits", number: "H1234567890", want: "H********90"},
		{name: "Taiwan permit", number: "12345678", want: "1*****78"},
		{name: "six characters", number: "123456", want: "1***56"},
		{name: "five characters", number: "12345", want: "*****"},
		{name: "one character", number: "1", want: "*"},
		{name: "empty", number: "", want: ""},
		{name: "longer than a resident ID", number: "1234567890123456789012", want: "123***************9012"},
		{name: "non-ASCII kept whole", number: "证件号码一二三四五六", want: "证*******五六"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MaskIDNumber(tt.number)
			if got != tt.want {
				t.Errorf("MaskIDNumber(%q) = %q, want %q", tt.number, got, tt.want)
			}
			assertMasked(t, tt.number, got)
		})
	}
}

// assertMasked checks the invariants of MaskIDNumber: same length in
// characters, at most 7 of them shown, and every shown one in place.
func assertMasked(t *testing.T, number, masked string) {
	t.Helper()
	n, m := []rune(number), []rune(masked)
	if len(m) != len(n) {
		t.Fatalf("MaskIDNumber(%q) = %q: %d characters, want %d", number, masked, len(m), len(n))
	}
	shown := 0
	for i := range m {
		if m[i] == '*' {
			continue
		}
		shown++
		if m[i] != n[i] {
			t.Fatalf("MaskIDNumber(%q) = %q: character %d changed", number, masked, i)
		}
	}
	if shown > 7 {
		t.Fatalf("MaskIDNumber(%q) = %q shows %d characters, want at most 7", number, masked, shown)
	}
	if len(n) > 0 && shown*2 > len(n) {
		t.Fatalf("MaskIDNumber(%q) = %q shows more than half", number, masked)
	}
}

// fuzzTypes are the document types the fuzz target cycles through; the last
// is unknown.
var fuzzTypes = []IDType{ResidentID, Passport, HKMacauPermit, TaiwanPermit, "UNKNOWN"}

func FuzzNormalizeIDNumber(f *testing.F) {
	seeds := []string{
		"11010519491231002X", "440524188001010014", "11010519491231002x",
		"110105194912310021", withCheck("99010519491231002"), withCheck("11010519490230002"),
		withCheck("11010520250616002"), " 11010519491231002X ", "", "E12345678",
		"e12345678", "H1234567890", "M12345678", "12345678", "１２３",
	}
	for i, s := range seeds {
		for k := range fuzzTypes {
			f.Add(uint8(i+k), s)
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, raw string) {
		typ := fuzzTypes[int(k)%len(fuzzTypes)]
		got, err := NormalizeIDNumber(typ, raw, testNow)
		if err != nil {
			if code := apperr.CodeOf(err); code != apperr.InvalidInput {
				t.Fatalf("NormalizeIDNumber(%s, %q) code = %s, want INVALID_INPUT", typ, raw, code)
			}
			// No message is made of 6 or more ASCII letters and digits
			// including a digit, so such a number never appears in one by
			// chance; if it does, the message leaked it.
			if s := strings.TrimSpace(raw); looksLikeNumber(s) && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the ID number", err)
			}
			return
		}
		if typ == "UNKNOWN" {
			t.Fatalf("NormalizeIDNumber accepted unknown type for %q", raw)
		}
		if got != strings.TrimSpace(raw) {
			t.Fatalf("NormalizeIDNumber(%s, %q) = %q: rewrote more than white space", typ, raw, got)
		}
		again, err := NormalizeIDNumber(typ, got, testNow)
		if err != nil || again != got {
			t.Fatalf("NormalizeIDNumber(%s, %q) = %q, %v; not idempotent", typ, got, again, err)
		}
		if typ == ResidentID {
			c, err := CheckDigit(got[:17])
			if err != nil || got[17] != c {
				t.Fatalf("accepted %q with check digit %q, want %q (%v)", got, got[17], c, err)
			}
			if _, ok := BirthDate(got); !ok {
				t.Fatalf("accepted %q without a birth date", got)
			}
		}
		assertMasked(t, got, MaskIDNumber(got))
	})
}

func looksLikeNumber(s string) bool {
	if len(s) < 6 {
		return false
	}
	digit := false
	for i := range len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			digit = true
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return digit
}
