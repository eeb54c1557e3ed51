package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/ent/user"
)

// TestVerifiedTokensStillExpire: a token remembered as verified is
// answered from memory while it is valid, and refused as expired (not
// served from memory) once its expiry and the leeway have passed; a token
// that differs in one character is refused.
func TestVerifiedTokensStillExpire(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	tokens := NewTokens(keys, "danbao", "danbao-api", 15*time.Minute)
	clock := time.Now()
	tokens.now = func() time.Time { return clock }
	tok, exp, err := tokens.Issue(pulid.New(pulid.PrefixUser), user.RoleUSER, "sid", clock)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second answer comes from memory
		c, err := tokens.Verify(tok)
		if err != nil || c.Role != user.RoleUSER || c.SessionID != "sid" {
			t.Fatalf("fresh token: %+v %v", c, err)
		}
	}
	if _, ok := tokens.verified.get(sha256Of(tok), clock); !ok {
		t.Fatal("a verified token was not remembered")
	}
	forged := tok[:len(tok)-2] + "AA"
	if forged == tok {
		forged = tok[:len(tok)-2] + "BB"
	}
	if _, err := tokens.Verify(forged); err == nil {
		t.Fatal("a token differing from a remembered one was accepted")
	}
	clock = exp.Add(leeway + time.Second)
	if _, err := tokens.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("remembered token after its expiry: %v, want ErrTokenExpired", err)
	}
}
