package kyc

import (
	"slices"
	"strings"
	"testing"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/money"
)

func TestLevelOrder(t *testing.T) {
	levels := Levels()
	for i, l := range levels {
		if l.Rank() != i {
			t.Errorf("%s.Rank() = %d, want %d", l, l.Rank(), i)
		}
		if !l.Valid() {
			t.Errorf("%s is not valid", l)
		}
		for j, m := range levels {
			if got, want := l.AtLeast(m), i >= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", l, m, got, want)
			}
		}
	}
	for _, bad := range []Level{"", "IV", "i", "LEVEL_I"} {
		if bad.Valid() || bad.Rank() != -1 || bad.AtLeast(Unverified) {
			t.Errorf("%q counts as a level", bad)
		}
	}
	if got := (Level("")).Values(); !slices.Equal(got, []string{"UNVERIFIED", "I", "II", "III"}) {
		t.Errorf("Level values = %v", got)
	}
	if got := (IDType("")).Values(); !slices.Equal(got, []string{"RESIDENT_ID", "PASSPORT", "HK_MACAU_PERMIT", "TAIWAN_PERMIT"}) {
		t.Errorf("IDType values = %v", got)
	}
	var l Level
	if err := l.UnmarshalGQL("II"); err != nil || l != LevelII {
		t.Errorf("UnmarshalGQL(II) = %v, %v", l, err)
	}
	if err := l.UnmarshalGQL("IV"); err == nil {
		t.Errorf("UnmarshalGQL(IV) accepted")
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig is invalid: %v", err)
	}
	tests := []struct {
		level    Level
		period   Period
		cny      int64
		evidence int
		pays     bool
	}{
		{Unverified, Lifetime, 0, 0, false},
		{LevelI, Lifetime, 1_000_00, 0, true},
		{LevelII, Year, 100_000_00, 3, true},
		{LevelIII, Year, 200_000_00, 5, true},
	}
	for _, tt := range tests {
		r := c.Rule(tt.level)
		got, ok := r.BalancePayments.For(money.CNY)
		if !ok || got != tt.cny || r.BalancePayments.Period != tt.period {
			t.Errorf("%s: limit %d (%v) over %s, want %d over %s", tt.level, got, ok, r.BalancePayments.Period, tt.cny, tt.period)
		}
		if r.Evidence != tt.evidence {
			t.Errorf("%s: evidence %d, want %d", tt.level, r.Evidence, tt.evidence)
		}
		for _, right := range []Right{RightPay, RightTopUp, RightReceive} {
			if r.Has(right) != tt.pays {
				t.Errorf("%s: Has(%s) = %v, want %v", tt.level, right, r.Has(right), tt.pays)
			}
		}
		if _, ok := r.BalancePayments.For(money.USD); ok {
			t.Errorf("%s: USD is configured by default", tt.level)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no zone", func(c *Config) { c.Zone = nil }, "time zone"},
		{"missing level", func(c *Config) { delete(c.Levels, LevelII) }, "no rule for level II"},
		{"evidence decreases", func(c *Config) { r := c.Levels[LevelIII]; r.Evidence = 2; c.Levels[LevelIII] = r }, "less evidence"},
		{"too much evidence", func(c *Config) { r := c.Levels[LevelIII]; r.Evidence = MaxEvidence + 1; c.Levels[LevelIII] = r }, "more than"},
		{"negative limit", func(c *Config) { c.Levels[LevelI].BalancePayments.Minor[money.CNY] = -1 }, "out of range"},
		{"unknown currency", func(c *Config) { c.Levels[LevelI].BalancePayments.Minor["XXX"] = 1 }, "unsupported currency"},
		{"unknown period", func(c *Config) {
			r := c.Levels[LevelI]
			r.BalancePayments.Period = "MONTH"
			c.Levels[LevelI] = r
		}, "unknown limit period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestYearsFollowChinaStandardTime(t *testing.T) {
	c := DefaultConfig()
	tests := []struct {
		at       time.Time
		year     int
		resetsAt time.Time
	}{
		// 2025-12-31 15:59 UTC is 23:59 in Beijing: still 2025.
		{time.Date(2025, 12, 31, 15, 59, 0, 0, time.UTC), 2025, time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)},
		// 2025-12-31 16:00 UTC is midnight in Beijing: 2026 has begun.
		{time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), 2026, time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC)},
		{time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC), 2025, time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := c.YearOf(tt.at); got != tt.year {
			t.Errorf("YearOf(%v) = %d, want %d", tt.at, got, tt.year)
		}
		if got := c.YearEnd(tt.at); !got.Equal(tt.resetsAt) {
			t.Errorf("YearEnd(%v) = %v, want %v", tt.at, got.UTC(), tt.resetsAt)
		}
	}
}

func TestNormalizeLegalName(t *testing.T) {
	tests := []struct {
		name, raw, want string
		wantErr         string // fragment of the message; "" for success
	}{
		{name: "Chinese", raw: "李四", want: "李四"},
		{name: "Latin with spaces", raw: "  Zhang   San ", want: "Zhang San"},
		{name: "middle dot", raw: "买买提·艾力", want: "买买提·艾力"},
		{name: "apostrophe and hyphen", raw: "Mary-Jane O'Neil", want: "Mary-Jane O'Neil"},
		{name: "tab and newline collapse", raw: "Li\t\nLei", want: "Li Lei"},
		{name: "combining accent", raw: "Jose\u0301", want: "Jose\u0301"},
		{name: "exactly 64", raw: strings.Repeat("李", 64), want: strings.Repeat("李", 64)},
		{name: "empty", raw: "", wantErr: "required"},
		{name: "only spaces", raw: " \t ", wantErr: "required"},
		{name: "65 characters", raw: strings.Repeat("李", 65), wantErr: "at most 64"},
		{name: "digits", raw: "Li 4", wantErr: "only letters"},
		{name: "ID number as name", raw: "11010519491231002X", wantErr: "only letters"},
		{name: "emoji", raw: "Li 😀", wantErr: "only letters"},
		{name: "control character", raw: "Li\x00Lei", wantErr: "only letters"},
		{name: "punctuation only", raw: "-.'", wantErr: "must contain a letter"},
		{name: "invalid UTF-8", raw: "Li\xffLei", wantErr: "not valid text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeLegalName(tt.raw)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeLegalName(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
				}
				if again, err := NormalizeLegalName(got); err != nil || again != got {
					t.Errorf("not idempotent: %q -> %q, %v", got, again, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput || !slices.Equal(e.Field, []string{"input", "legalName"}) {
				t.Fatalf("NormalizeLegalName(%q) error = %v, want INVALID_INPUT on legalName", tt.raw, err)
			}
			if !strings.Contains(e.Message, tt.wantErr) {
				t.Errorf("message %q does not mention %q", e.Message, tt.wantErr)
			}
		})
	}
}

func TestMaskLegalName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"李四", "李*"},
		{"欧阳娜娜", "欧***"},
		{"ZHANG SAN", "Z**** ***"},
		{"买买提·艾力", "买*****"},
		{"李", "*"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskLegalName(tt.in); got != tt.want {
			t.Errorf("MaskLegalName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSameName(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"Zhang San", "ZHANG SAN", true},
		{"Zhang San", "ZHANGSAN", true},
		{"Zhang San", "zhang  san", true},
		{"买买提·艾力", "买买提艾力", true},
		{"李四", "李四", true},
		{"李四", "李五", false},
		{"Zhang San", "Zhang Sam", false},
		{"Zhang San", "San Zhang", false},
		{"", "", false},
		{"-", ".", false},
	}
	for _, tt := range tests {
		if got := SameName(tt.a, tt.b); got != tt.same {
			t.Errorf("SameName(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

func TestValidateRequest(t *testing.T) {
	c := DefaultConfig()
	const good = "11010519491231002X"
	ev := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "source-" + string(rune('a'+i))
		}
		return out
	}
	tests := []struct {
		name      string
		req       Request
		wantField string // "" for success
		want      Request
	}{
		{name: "level I by default", req: Request{LegalName: " 李四 ", IDType: ResidentID, IDNumber: " " + good},
			want: Request{LegalName: "李四", IDType: ResidentID, IDNumber: good, TargetLevel: LevelI, Evidence: []string{}}},
		{name: "level II with 3 entries", req: Request{LegalName: "李四", IDType: ResidentID, IDNumber: good, TargetLevel: LevelII, Evidence: []string{" a ", "b", "c"}},
			want: Request{LegalName: "李四", IDType: ResidentID, IDNumber: good, TargetLevel: LevelII, Evidence: []string{"a", "b", "c"}}},
		{name: "level III with 5 entries", req: Request{LegalName: "Li", IDType: Passport, IDNumber: "E12345678", TargetLevel: LevelIII, Evidence: ev(5)},
			want: Request{LegalName: "Li", IDType: Passport, IDNumber: "E12345678", TargetLevel: LevelIII, Evidence: ev(5)}},
		{name: "extra evidence is fine", req: Request{LegalName: "Li", IDType: TaiwanPermit, IDNumber: "12345678", Evidence: ev(2)},
			want: Request{LegalName: "Li", IDType: TaiwanPermit, IDNumber: "12345678", TargetLevel: LevelI, Evidence: ev(2)}},

		// The ID number is checked before anything else.
		{name: "bad number and bad name", req: Request{LegalName: "", IDType: ResidentID, IDNumber: "110105194912310021"}, wantField: "idNumber"},
		{name: "unknown type and bad name", req: Request{LegalName: "", IDType: "DRIVER_LICENSE", IDNumber: good}, wantField: "idType"},
		{name: "empty name", req: Request{IDType: ResidentID, IDNumber: good}, wantField: "legalName"},
		{name: "name before level", req: Request{LegalName: "L1", IDType: ResidentID, IDNumber: good, TargetLevel: "IV"}, wantField: "legalName"},
		{name: "unknown level", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: "IV"}, wantField: "targetLevel"},
		{name: "UNVERIFIED asked", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: Unverified}, wantField: "targetLevel"},
		{name: "level II without evidence", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: LevelII}, wantField: "evidence"},
		{name: "level II with 2", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: LevelII, Evidence: ev(2)}, wantField: "evidence"},
		{name: "level III with 4", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: LevelIII, Evidence: ev(4)}, wantField: "evidence"},
		{name: "duplicates do not count twice", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, TargetLevel: LevelII, Evidence: []string{"a", "b", " a"}}, wantField: "evidence"},
		{name: "empty entry", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, Evidence: []string{" "}}, wantField: "evidence"},
		{name: "long entry", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, Evidence: []string{strings.Repeat("x", MaxEvidenceLen+1)}}, wantField: "evidence"},
		{name: "control character", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, Evidence: []string{"a\x07b"}}, wantField: "evidence"},
		{name: "too many entries", req: Request{LegalName: "Li", IDType: ResidentID, IDNumber: good, Evidence: ev(MaxEvidence + 1)}, wantField: "evidence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.ValidateRequest(tt.req, testNow)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateRequest: %v", err)
				}
				if got.LegalName != tt.want.LegalName || got.IDType != tt.want.IDType || got.IDNumber != tt.want.IDNumber ||
					got.TargetLevel != tt.want.TargetLevel || !slices.Equal(got.Evidence, tt.want.Evidence) {
					t.Fatalf("ValidateRequest = %+v, want %+v", got, tt.want)
				}
				if again, err := c.ValidateRequest(got, testNow); err != nil || again.IDNumber != got.IDNumber || again.LegalName != got.LegalName {
					t.Errorf("not idempotent: %+v, %v", again, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput || !slices.Equal(e.Field, []string{"input", tt.wantField}) {
				t.Fatalf("error = %v, want INVALID_INPUT on %s", err, tt.wantField)
			}
			if strings.Contains(err.Error(), good) {
				t.Errorf("error %q contains the ID number", err)
			}
		})
	}
}

func TestSandboxDecision(t *testing.T) {
	tests := []struct {
		name   string
		target Level
		want   Decision
	}{
		{"李四", "", Decision{Outcome: Approve, Level: LevelI}},
		{"Zhang San", LevelII, Decision{Outcome: Approve, Level: LevelII}},
		{"Zhang San", LevelIII, Decision{Outcome: Approve, Level: LevelIII}},
		{"REJECT Wang", LevelI, Decision{Outcome: Reject}},
		{"王REJECT", LevelII, Decision{Outcome: Reject}},
		{"PENDING Zhao", LevelI, Decision{Outcome: Undecided}},
		{"Zhao PENDING REJECT", LevelI, Decision{Outcome: Reject}},
		// Only the upper-case words trigger the sandbox.
		{"Reject Pending", LevelI, Decision{Outcome: Approve, Level: LevelI}},
	}
	for _, tt := range tests {
		got := SandboxDecision(tt.name, tt.target)
		if got.Outcome != tt.want.Outcome || got.Level != tt.want.Level {
			t.Errorf("SandboxDecision(%q, %q) = %+v, want %+v", tt.name, tt.target, got, tt.want)
		}
		if got.Outcome == Reject && got.Reason == "" {
			t.Errorf("SandboxDecision(%q) rejects without a reason", tt.name)
		}
	}
}
