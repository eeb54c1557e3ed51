package bank

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"danbao/internal/apperr"
)

// SignatureHeader is the HTTP header that carries a callback's signature,
// in the form returned by Signer.Header.
const SignatureHeader = "Danbao-Signature"

// DefaultTolerance is the tolerance Verify uses when Signer.Tolerance is not
// positive.
const DefaultTolerance = 5 * time.Minute

// maxHeaderLen bounds the signature header Verify will parse, so that a
// caller cannot make it compare an unbounded number of v1 entries.
const maxHeaderLen = 4096

// Signer signs and verifies gateway callbacks the way an acquirer signs its
// notifications: an HMAC-SHA256 with a shared Secret over the timestamp and
// the raw body, carried in a header "t=<unix seconds>,v1=<hex>". Tolerance
// is how far the timestamp may be from the receiver's clock, in either
// direction; not positive means DefaultTolerance.
type Signer struct {
	Secret    []byte
	Tolerance time.Duration
}

// Sign returns the hex HMAC-SHA256 of "<unix seconds of timestamp>.<body>"
// under s.Secret.
func (s Signer) Sign(timestamp time.Time, body []byte) string {
	return hex.EncodeToString(s.mac(timestamp.Unix(), body))
}

func (s Signer) mac(unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, s.Secret)
	var buf [24]byte
	m.Write(strconv.AppendInt(buf[:0], unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Header returns the signature header for body sent at ts:
// "t=<unix seconds>,v1=<hex signature>".
func (s Signer) Header(ts time.Time, body []byte) string {
	return "t=" + strconv.FormatInt(ts.Unix(), 10) + ",v1=" + s.Sign(ts, body)
}

// Verify checks that header (as made by Header) authenticates body at time
// now. The header may carry several v1 entries, so that a sender rotating
// its secret can sign with both; it is authentic if any one of them matches.
// Entries with other keys (such as a future v2) are ignored.
//
// Errors: INVALID_INPUT if the header is missing or malformed (no single
// numeric t, no v1, a v1 that is not a hex SHA-256);
// UNAUTHENTICATED "callback signature does not match" if no v1 matches;
// UNAUTHENTICATED "callback timestamp is too old" or "callback timestamp is
// in the future" if the signature matches but the timestamp is further than
// the tolerance from now. A Signer with an empty Secret returns a plain
// (internal) error: it would accept signatures anyone can make.
func (s Signer) Verify(header string, body []byte, now time.Time) error {
	if len(s.Secret) == 0 {
		return errors.New("bank: callback signer has no secret")
	}
	ts, sigs, err := parseHeader(header)
	if err != nil {
		return err
	}
	// The signature is checked before the timestamp, so that the stale and
	// future answers are given only for callbacks that really came from the
	// gateway (replays), never for forgeries.
	want := s.mac(ts, body)
	ok := false
	for _, sig := range sigs {
		// Every entry is compared, matching or not, so the time taken
		// does not depend on which one matched.
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return apperr.New(apperr.Unauthenticated, "callback signature does not match")
	}
	tol := s.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	// Compare in whole seconds (the header's resolution). ts is never
	// negative and now.Unix() is far from the int64 bounds, so the
	// subtraction cannot overflow.
	age := now.Unix() - ts
	limit := int64(tol / time.Second)
	switch {
	case age > limit:
		return apperr.New(apperr.Unauthenticated, "callback timestamp is too old")
	case age < -limit:
		return apperr.New(apperr.Unauthenticated, "callback timestamp is in the future")
	}
	return nil
}

// parseHeader splits a "t=<unix>,v1=<hex>[,v1=<hex>...]" header into its
// timestamp and decoded v1 signatures.
func parseHeader(header string) (int64, [][]byte, error) {
	if strings.TrimSpace(header) == "" {
		return 0, nil, apperr.New(apperr.InvalidInput, "missing callback signature header")
	}
	malformed := func(why string) error {
		return apperr.New(apperr.InvalidInput, "malformed callback signature header: %s", why)
	}
	if len(header) > maxHeaderLen {
		return 0, nil, malformed("too long")
	}
	var (
		ts    int64
		hasTS bool
		sigs  [][]byte
	)
	for item := range strings.SplitSeq(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return 0, nil, malformed("expected key=value pairs")
		}
		switch key {
		case "t":
			if hasTS {
				return 0, nil, malformed("more than one timestamp")
			}
			// Digits only: no sign, no spaces; at most 18 so it fits.
			if value == "" || len(value) > 18 || strings.TrimLeft(value, "0123456789") != "" {
				return 0, nil, malformed("timestamp is not a number of seconds")
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return 0, nil, malformed("timestamp is not a number of seconds")
			}
			ts, hasTS = n, true
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil || len(sig) != sha256.Size {
				return 0, nil, malformed("v1 is not a hex HMAC-SHA256")
			}
			sigs = append(sigs, sig)
		}
	}
	if !hasTS {
		return 0, nil, malformed("no timestamp")
	}
	if len(sigs) == 0 {
		return 0, nil, malformed("no v1 signature")
	}
	return ts, sigs, nil
}
