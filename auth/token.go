package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"danbao/ent/schema/pulid"
	"danbao/ent/user"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a danbao access token.
type Claims struct {
	Role user.Role `json:"role"`
	// AuthTime is when the user last proved who they are (password or
	// passkey), as OIDC's auth_time: refreshing a token does not renew it.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	// Partner marks a partner app's token (OAuth 2.0 client credentials):
	// its subject is the partner app's id, it has no role, and Scope lists
	// what it may do (space-separated, as RFC 6749 section 3.3).
	Partner bool   `json:"partner,omitempty"`
	Scope   string `json:"scope,omitempty"`
	// SessionID names the sign-in session the token belongs to (the
	// refresh-token family); ending the session makes operations that
	// move money or change credentials refuse the token.
	SessionID string `json:"sid,omitempty"`
	// SecretVersion names the partner app's secret the token was issued
	// against (SecretVersion of its hash): once the secret is rotated,
	// operations that change anything refuse the token.
	SecretVersion string `json:"sv,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies access tokens.
type Tokens struct {
	keys     *KeySet
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	verified verifiedTokens
}

// NewTokens returns a Tokens that signs with keys for the given issuer and
// audience, each token valid for ttl.
func NewTokens(keys *KeySet, issuer, audience string, ttl time.Duration) *Tokens {
	return &Tokens{keys: keys, issuer: issuer, audience: audience, ttl: ttl, now: time.Now}
}

// Keys returns the key set (for the JWKS endpoint).
func (t *Tokens) Keys() *KeySet { return t.keys }

// Issue signs an access token of session sid for the user, who last
// authenticated at authTime, and returns it with its expiry.
func (t *Tokens) Issue(userID pulid.ID, role user.Role, sid string, authTime time.Time) (string, time.Time, error) {
	return t.sign(string(userID), Claims{
		Role:      role,
		AuthTime:  jwt.NewNumericDate(authTime.UTC().Truncate(time.Second)),
		SessionID: sid,
	})
}

// IssuePartner signs an access token for a partner app with the given
// scopes, bound to its current secret (SecretVersion), and returns it with
// its expiry.
func (t *Tokens) IssuePartner(partnerID pulid.ID, scopes []string, secretVersion string) (string, time.Time, error) {
	return t.sign(string(partnerID), Claims{Partner: true, Scope: strings.Join(scopes, " "), SecretVersion: secretVersion})
}

// SecretVersion names a partner app's secret by its stored hash, for the
// tokens issued against it: a digest of the hash (so the token reveals
// nothing of it), 16 hex digits.
func SecretVersion(secretHash []byte) string {
	h := sha256.New()
	h.Write([]byte("danbao partner secret version\x00"))
	h.Write(secretHash)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sign fills the registered claims of c (issuer, subject, audience, times,
// a random ID), signs it with the current key and returns it with its
// expiry.
func (t *Tokens) sign(subject string, c Claims) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	exp := now.Add(t.ttl)
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    t.issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{t.audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = t.keys.KID()
	s, err := tok.SignedString(t.keys.signing)
	return s, exp, err
}

// errToken is the one error every refused token gets, but for an expired
// one: the caller learns nothing about which check failed.
var errToken = errors.New("invalid access token")

// ErrTokenExpired is Verify's error for a token that passes every check but
// its expiry: the client should refresh it rather than sign in again.
var ErrTokenExpired = errors.New("access token expired")

// Verify checks a token's signature with the key its kid names (ES256 only),
// its issuer, audience and expiry (all required), and returns its claims.
// Errors: ErrTokenExpired for a token that is valid but for its expiry,
// otherwise one opaque error.
func (t *Tokens) Verify(token string) (*Claims, error) {
	key := sha256Of(token)
	if c, ok := t.verified.get(key, t.now()); ok {
		return c, nil
	}
	claims, err := t.verifyAt(token, t.now)
	if err == nil {
		t.verified.put(key, claims)
	}
	if errors.Is(err, jwt.ErrTokenExpired) && claims.ExpiresAt != nil {
		// Expired, but was it otherwise sound? Check it again as of just
		// before its expiry (the signature was checked before the claims).
		exp := claims.ExpiresAt.Time
		if _, err := t.verifyAt(token, func() time.Time { return exp.Add(-time.Second) }); err == nil {
			return nil, ErrTokenExpired
		}
	}
	if err != nil {
		return nil, errToken
	}
	return claims, nil
}

// leeway is the clock skew allowed on a token's times.
const leeway = 30 * time.Second

// maxVerified bounds the tokens remembered as verified (about 100 bytes
// each); when full, the memory is cleared and refills as tokens are used.
const maxVerified = 10000

// verifiedTokens remembers, by SHA-256 of the token, the claims of tokens
// that passed every check, until they expire: checking an ES256 signature
// was the largest cost of a request of danbao's own in a CPU profile
// under load (about 11 %), and a client sends the same token with every
// request until it expires. The checks of time (expiry with the leeway)
// are made again on every use; the signature, issuer, audience and subject
// cannot change for the same token.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[32]byte]*Claims
}

// get returns a copy of the remembered claims of the token whose hash is
// key, if it is remembered and not expired at now.
func (v *verifiedTokens) get(key [32]byte, now time.Time) (*Claims, bool) {
	v.mu.Lock()
	c, ok := v.m[key]
	v.mu.Unlock()
	if !ok || c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Add(leeway)) {
		return nil, false
	}
	cp := *c
	return &cp, true
}

func (v *verifiedTokens) put(key [32]byte, c *Claims) {
	cp := *c
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[[32]byte]*Claims)
	}
	v.m[key] = &cp
}

func (t *Tokens) verifyAt(token string, now func() time.Time) (*Claims, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	)
	var claims Claims
	_, err := parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		key, ok := t.keys.PublicKey(kid)
		if !ok {
			return nil, errToken
		}
		return key, nil
	})
	if err != nil {
		return &claims, err
	}
	id := pulid.ID(claims.Subject)
	if !id.Valid() {
		return nil, errToken
	}
	if claims.Partner {
		if claims.Role != "" || id.Prefix() != PartnerIDPrefix {
			return nil, errToken
		}
		return &claims, nil
	}
	if claims.Role != user.RoleUSER && claims.Role != user.RoleOPERATOR {
		return nil, errToken
	}
	return &claims, nil
}

func sha256Of(token string) [32]byte { return sha256.Sum256([]byte(token)) }
