package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

const (
	// KeySize is the size in bytes of a data key (AES-256).
	KeySize = 32
	// MinIndexKeySize is the smallest accepted blind index key, in bytes.
	MinIndexKeySize = 32

	nonceSize = 12
	tagSize   = 16
)

// ErrUnknownVersion is returned by Decrypt for a key version the keyring
// does not hold.
var ErrUnknownVersion = errors.New("vault: unknown key version")

// ErrDecrypt is returned by Decrypt when the ciphertext is malformed, has
// been altered, or was sealed with other associated data or another key.
var ErrDecrypt = errors.New("vault: ciphertext does not authenticate")

// Keyring holds the versioned data keys and the blind index key. Build it
// with NewKeyring or ParseKeyring; it is immutable and safe for concurrent
// use.
type Keyring struct {
	aeads    map[int]cipher.AEAD
	current  int
	indexKey []byte
}

// NewKeyring returns a Keyring holding keys by version, encrypting new data
// under version current and computing blind indexes with indexKey. Versions
// are positive, so that a zero version column never names a key; every data
// key is KeySize bytes; indexKey is at least MinIndexKeySize bytes. The key
// slices are copied.
func NewKeyring(keys map[int][]byte, current int, indexKey []byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no data keys")
	}
	aeads := make(map[int]cipher.AEAD, len(keys))
	for v, key := range keys {
		if v < 1 {
			return nil, fmt.Errorf("vault: key version %d is not positive", v)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: key version %d has %d bytes, want %d", v, len(key), KeySize)
		}
		block, err := aes.NewCipher(slices.Clone(key))
		if err != nil {
			return nil, fmt.Errorf("vault: key version %d: %w", v, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key version %d: %w", v, err)
		}
		aeads[v] = aead
	}
	if _, ok := aeads[current]; !ok {
		return nil, fmt.Errorf("vault: no key for current version %d", current)
	}
	if len(indexKey) < MinIndexKeySize {
		return nil, fmt.Errorf("vault: index key has %d bytes, want at least %d", len(indexKey), MinIndexKeySize)
	}
	return &Keyring{aeads: aeads, current: current, indexKey: slices.Clone(indexKey)}, nil
}

// ParseKeyring builds a Keyring from configuration text: spec lists data
// keys as comma-separated "version:base64key" pairs (for example
// "1:AAAA...,2:BBBB..."), the highest version becoming current, and
// indexKeyB64 is the base64 blind index key. Standard and URL-safe base64
// are accepted, with or without padding; spaces around items are ignored.
// Error messages name versions and sizes, never key material.
func ParseKeyring(spec string, indexKeyB64 string) (*Keyring, error) {
	keys := make(map[int][]byte)
	current := 0
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		vs, b64, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("vault: key list item %d is not version:base64key", len(keys)+1)
		}
		v, err := strconv.Atoi(strings.TrimSpace(vs))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("vault: key list item %d has a version that is not a positive integer", len(keys)+1)
		}
		if _, dup := keys[v]; dup {
			return nil, fmt.Errorf("vault: key version %d is listed twice", v)
		}
		key, err := decodeBase64(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("vault: key version %d is not valid base64", v)
		}
		keys[v] = key
		current = max(current, v)
	}
	if len(keys) == 0 {
		return nil, errors.New("vault: key list is empty")
	}
	indexKey, err := decodeBase64(strings.TrimSpace(indexKeyB64))
	if err != nil {
		return nil, errors.New("vault: index key is not valid base64")
	}
	return NewKeyring(keys, current, indexKey)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not. The
// alphabets differ only in "+/" against "-_", so at most one of them can
// decode a given string.
func decodeBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Encrypt seals plaintext under the current key, bound to aad, and returns
// the ciphertext (a random 12-byte nonce, then the sealed data) with the key
// version to store beside it. The same plaintext encrypts differently every
// time; use BlindIndex to look values up.
func (k *Keyring) Encrypt(plaintext []byte, aad []byte) (ciphertext []byte, version int, err error) {
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, 0, fmt.Errorf("vault: reading nonce: %w", err)
	}
	// With random 96-bit nonces one key stays safe for about 2^32
	// encryptions; rotation keeps each key far below that.
	out = k.aeads[k.current].Seal(out, out, plaintext, aad)
	return out, k.current, nil
}

// Decrypt opens ciphertext sealed by Encrypt under key version with the
// same aad. It returns ErrUnknownVersion for a version the keyring does not
// hold and ErrDecrypt for anything that fails authentication.
func (k *Keyring) Decrypt(ciphertext []byte, version int, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[version]
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownVersion, version)
	}
	if len(ciphertext) < nonceSize+tagSize {
		return nil, ErrDecrypt
	}
	plaintext, err := aead.Open(nil, ciphertext[:nonceSize], ciphertext[nonceSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

// BlindIndex returns HMAC-SHA256(indexKey, purpose || 0x00 || value), 32
// bytes. It is deterministic, so a unique index over it finds equal values
// (one ID number, one wallet) without decrypting; purpose separates indexes
// so equal values in different columns do not match. Purposes are fixed by
// code and must not contain a zero byte, which would make the encoding
// ambiguous: BlindIndex panics if one does. Normalize value first (see
// kyc.NormalizeIDNumber), since the index matches bytes exactly.
func (k *Keyring) BlindIndex(purpose string, value string) []byte {
	if strings.IndexByte(purpose, 0) >= 0 {
		panic("vault: blind index purpose contains a zero byte")
	}
	mac := hmac.New(sha256.New, k.indexKey)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return mac.Sum(nil)
}

// CurrentVersion returns the key version Encrypt uses.
func (k *Keyring) CurrentVersion() int { return k.current }

// NeedsRotation reports whether data stored under version should be
// re-encrypted: true for any version other than the current one.
func (k *Keyring) NeedsRotation(version int) bool { return version != k.current }

// Versions returns the key versions the keyring holds, in ascending order.
func (k *Keyring) Versions() []int { return slices.Sorted(maps.Keys(k.aeads)) }

// String describes the keyring by its versions only, so that printing or
// logging it never reveals a key.
func (k Keyring) String() string {
	return fmt.Sprintf("vault.Keyring{versions: %v, current: %d}", k.Versions(), k.current)
}

// Format prints String for every verb, so that no verb (%d, %x, %#v) falls
// back to printing the fields and with them the keys. It has a value
// receiver so that a copied Keyring is covered as well as a *Keyring.
func (k Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// GenerateKey returns KeySize random bytes, suitable as a data key or a
// blind index key.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vault: generating key: %w", err)
	}
	return key, nil
}
