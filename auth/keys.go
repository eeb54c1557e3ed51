package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySet holds the ES256 key that signs new access tokens and every public
// key whose tokens are still accepted (the signing key's and those of keys
// retired by rotation). Each key is named by its RFC 7638 thumbprint (kid).
type KeySet struct {
	signing *ecdsa.PrivateKey
	kid     string
	public  map[string]*ecdsa.PublicKey
}

// NewKeySet builds a KeySet from a signing key and retired public keys.
func NewKeySet(signing *ecdsa.PrivateKey, retired ...*ecdsa.PublicKey) (*KeySet, error) {
	if signing == nil || signing.Curve != elliptic.P256() {
		return nil, errors.New("auth: the signing key must be an ECDSA P-256 key")
	}
	ks := &KeySet{signing: signing, public: map[string]*ecdsa.PublicKey{}}
	ks.kid = Thumbprint(&signing.PublicKey)
	ks.public[ks.kid] = &signing.PublicKey
	for _, p := range retired {
		if p.Curve != elliptic.P256() {
			return nil, errors.New("auth: retired keys must be ECDSA P-256 keys")
		}
		ks.public[Thumbprint(p)] = p
	}
	return ks, nil
}

// LoadKeySet reads the PEM signing key at path. When the file does not exist
// and create is true (the development default in the data directory), a new
// key is generated and written there with mode 0600. retiredFiles are PEM
// public (or private) keys still accepted during rotation.
func LoadKeySet(path string, create bool, retiredFiles []string) (*KeySet, error) {
	pemBytes, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, gerr := x509.MarshalPKCS8PrivateKey(key)
		if gerr != nil {
			return nil, gerr
		}
		pemBytes = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
			return nil, fmt.Errorf("auth: writing signing key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("auth: reading signing key: %w", err)
	}
	priv, err := parsePrivate(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	var retired []*ecdsa.PublicKey
	for _, f := range retiredFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("auth: reading retired key: %w", err)
		}
		pub, err := parsePublic(b)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", f, err)
		}
		retired = append(retired, pub)
	}
	return NewKeySet(priv, retired...)
}

func parsePrivate(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if ec, ok := k.(*ecdsa.PrivateKey); ok {
			return ec, nil
		}
		return nil, errors.New("not an ECDSA key")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

func parsePublic(b []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if ec, ok := k.(*ecdsa.PublicKey); ok {
			return ec, nil
		}
		return nil, errors.New("not an ECDSA key")
	}
	priv, err := parsePrivate(b)
	if err != nil {
		return nil, err
	}
	return &priv.PublicKey, nil
}

// KID returns the kid of the signing key.
func (ks *KeySet) KID() string { return ks.kid }

// PublicKey returns the public key named kid, if it is accepted.
func (ks *KeySet) PublicKey(kid string) (*ecdsa.PublicKey, bool) {
	k, ok := ks.public[kid]
	return k, ok
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

func toJWK(p *ecdsa.PublicKey) jwk {
	// Uncompressed point: 0x04 || X || Y, 32 bytes each for P-256.
	raw, _ := p.Bytes()
	enc := base64.RawURLEncoding
	return jwk{Kty: "EC", Crv: "P-256", X: enc.EncodeToString(raw[1:33]), Y: enc.EncodeToString(raw[33:65])}
}

// Thumbprint is the RFC 7638 JWK thumbprint of a P-256 public key,
// base64url-encoded: a stable kid derived from the key itself.
func Thumbprint(p *ecdsa.PublicKey) string {
	k := toJWK(p)
	// RFC 7638: the required members in lexicographic order, no spaces.
	canon := `{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":"` + k.X + `","y":"` + k.Y + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS returns the JSON Web Key Set of every accepted public key, as served
// at /.well-known/jwks.json.
func (ks *KeySet) JWKS() []byte {
	keys := make([]jwk, 0, len(ks.public))
	add := func(kid string, p *ecdsa.PublicKey) {
		k := toJWK(p)
		k.Kid, k.Use, k.Alg = kid, "sig", "ES256"
		keys = append(keys, k)
	}
	add(ks.kid, ks.public[ks.kid])
	for kid, p := range ks.public {
		if kid != ks.kid {
			add(kid, p)
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}
