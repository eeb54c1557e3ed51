package bank

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"danbao/internal/apperr"
)

func TestSignKnownVector(t *testing.T) {
	// Computed independently of Sign: HMAC-SHA256("secret", "1700000000.{}").
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte("1700000000.{}"))
	want := hex.EncodeToString(m.Sum(nil))
	s := Signer{Secret: []byte("secret")}
	ts := time.Unix(1700000000, 999_000_000)
	if got := s.Sign(ts, []byte("{}")); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if got := s.Header(ts, []byte("{}")); got != "t=1700000000,v1="+want {
		t.Errorf("Header = %s", got)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"topUpId":"t1","outcome":"SUCCEEDED","amount":"100.00"}`)
	secret := []byte("whsec_current")
	old := Signer{Secret: []byte("whsec_previous")}
	s := Signer{Secret: secret, Tolerance: 5 * time.Minute}
	unix := strconv.FormatInt(now.Unix(), 10)
	good := s.Header(now, body)
	sig := s.Sign(now, body)
	forged := Signer{Secret: []byte("attacker")}.Sign(now, body)
	const (
		mismatch = "callback signature does not match"
		tooOld   = "callback timestamp is too old"
		future   = "callback timestamp is in the future"
	)
	tests := []struct {
		name   string
		signer Signer
		header string
		body   []byte
		now    time.Time
		code   apperr.Code // "" means accepted
		msg    string
	}{
		{name: "good", header: good},
		{name: "good with spaces", header: "t=" + unix + ", v1=" + sig},
		{name: "good upper-case hex", header: "t=" + unix + ",v1=" + strings.ToUpper(sig)},
		{name: "v1 before t", header: "v1=" + sig + ",t=" + unix},
		{name: "rotation new secret second", header: old.Header(now, body) + ",v1=" + sig},
		{name: "rotation new secret first", header: good + ",v1=" + old.Sign(now, body)},
		{name: "unknown scheme ignored", header: good + ",v0=whatever"},
		{name: "rotation verified by old secret", signer: old, header: good + ",v1=" + old.Sign(now, body)},
		{name: "just inside tolerance past", header: s.Header(now.Add(-5*time.Minute), body)},
		{name: "just inside tolerance future", header: s.Header(now.Add(5*time.Minute), body)},
		{name: "default tolerance", signer: Signer{Secret: secret}, header: s.Header(now.Add(-DefaultTolerance), body)},

		{name: "forged", header: "t=" + unix + ",v1=" + forged, code: apperr.Unauthenticated, msg: mismatch},
		{name: "wrong secret", signer: Signer{Secret: []byte("other")}, header: good, code: apperr.Unauthenticated, msg: mismatch},
		{name: "tampered body", header: good, body: []byte(`{"topUpId":"t1","outcome":"SUCCEEDED","amount":"999.00"}`), code: apperr.Unauthenticated, msg: mismatch},
		{name: "empty body", header: good, body: []byte{}, code: apperr.Unauthenticated, msg: mismatch},
		{name: "timestamp moved", header: "t=" + strconv.FormatInt(now.Unix()+1, 10) + ",v1=" + sig, code: apperr.Unauthenticated, msg: mismatch},
		{name: "all rotation entries wrong", header: "t=" + unix + ",v1=" + forged + ",v1=" + old.Sign(now, body), code: apperr.Unauthenticated, msg: mismatch},
		{name: "forged and stale", header: "t=1,v1=" + forged, code: apperr.Unauthenticated, msg: mismatch},

		{name: "stale", header: s.Header(now.Add(-5*time.Minute-time.Second), body), code: apperr.Unauthenticated, msg: tooOld},
		{name: "very stale", header: s.Header(now.Add(-72*time.Hour), body), code: apperr.Unauthenticated, msg: tooOld},
		{name: "future", header: s.Header(now.Add(5*time.Minute+time.Second), body), code: apperr.Unauthenticated, msg: future},
		{name: "far future", header: s.Header(now.Add(24*time.Hour), body), code: apperr.Unauthenticated, msg: future},
		{name: "stale by default tolerance", signer: Signer{Secret: secret}, header: s.Header(now.Add(-DefaultTolerance-time.Second), body), code: apperr.Unauthenticated, msg: tooOld},

		{name: "missing", header: "", code: apperr.InvalidInput, msg: "missing"},
		{name: "blank", header: "   ", code: apperr.InvalidInput, msg: "missing"},
		{name: "no timestamp", header: "v1=" + sig, code: apperr.InvalidInput, msg: "no timestamp"},
		{name: "no v1", header: "t=" + unix, code: apperr.InvalidInput, msg: "no v1"},
		{name: "only unknown scheme", header: "t=" + unix + ",v0=" + sig, code: apperr.InvalidInput, msg: "no v1"},
		{name: "two timestamps", header: "t=" + unix + ",t=" + unix + ",v1=" + sig, code: apperr.InvalidInput, msg: "more than one timestamp"},
		{name: "timestamp not a number", header: "t=abc,v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "timestamp empty", header: "t=,v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "timestamp negative", header: "t=-1,v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "timestamp plus", header: "t=+" + unix + ",v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "timestamp fraction", header: "t=" + unix + ".5,v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "timestamp overflow", header: "t=99999999999999999999,v1=" + sig, code: apperr.InvalidInput, msg: "timestamp"},
		{name: "v1 not hex", header: "t=" + unix + ",v1=zz" + sig[2:], code: apperr.InvalidInput, msg: "v1"},
		{name: "v1 short", header: "t=" + unix + ",v1=" + sig[:62], code: apperr.InvalidInput, msg: "v1"},
		{name: "v1 empty", header: "t=" + unix + ",v1=", code: apperr.InvalidInput, msg: "v1"},
		{name: "not key value", header: "t=" + unix + "," + sig, code: apperr.InvalidInput, msg: "key=value"},
		{name: "semicolons", header: "t=" + unix + ";v1=" + sig, code: apperr.InvalidInput, msg: "malformed"},
		{name: "too long", header: good + strings.Repeat(",v1="+forged, 100), code: apperr.InvalidInput, msg: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signer := s
			if tt.signer.Secret != nil {
				signer = tt.signer
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			at := now
			if !tt.now.IsZero() {
				at = tt.now
			}
			err := signer.Verify(tt.header, b, at)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Verify(%q): %v", tt.header, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("Verify(%q) = %v, want *apperr.Error %s", tt.header, err, tt.code)
			}
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Verify(%q) = %s %q, want %s containing %q", tt.header, e.Code, e.Message, tt.code, tt.msg)
			}
			if strings.Contains(e.Message, string(signer.Secret)) {
				t.Errorf("message %q contains the secret", e.Message)
			}
		})
	}
}

func TestVerifyWithoutSecret(t *testing.T) {
	// With an empty secret anyone can compute the signature, so Verify must
	// refuse everything, and as an internal error (misconfiguration), not a
	// caller error.
	s := Signer{}
	now := time.Unix(1_700_000_000, 0)
	err := s.Verify(s.Header(now, []byte("x")), []byte("x"), now)
	if err == nil {
		t.Fatal("Verify with an empty secret accepted a callback")
	}
	if code := apperr.CodeOf(err); code != apperr.Internal {
		t.Errorf("code = %s, want %s", code, apperr.Internal)
	}
}
