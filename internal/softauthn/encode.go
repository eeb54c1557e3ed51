package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
)

// Flag bits of authenticatorData (WebAuthn §6.1).
const (
	flagUP byte = 0x01 // user present
	flagUV byte = 0x04 // user verified
	flagBE byte = 0x08 // backup eligible
	flagBS byte = 0x10 // backup state
	flagAT byte = 0x40 // attested credential data included
)

// Client data types (CollectedClientData.type).
const (
	typeCreate = "webauthn.create"
	typeGet    = "webauthn.get"
)

// publicKeyType is the only PublicKeyCredentialType.
const publicKeyType = "public-key"

// transports is what a synced platform passkey reports.
var transports = []string{"internal", "hybrid"}

// b64 encodes binary data the way toJSON() does: base64url without padding.
func b64(b []byte) string {
	return base64.RawURLEncoding.EncodeToString(b)
}

// unb64 decodes a base64url member of the options, tolerating padding.
func unb64(member, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64url: %v", ErrInvalidOptions, member, err)
	}
	return b, nil
}

// unwrapOptions returns the options object inside go-webauthn's
// {"publicKey": {...}} wrapper, or data itself when it is the bare object.
func unwrapOptions(data []byte) ([]byte, error) {
	var w struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	if len(w.PublicKey) > 0 && !bytes.Equal(w.PublicKey, []byte("null")) {
		return w.PublicKey, nil
	}
	return data, nil
}

// descriptorJSON is a PublicKeyCredentialDescriptorJSON.
type descriptorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// decodeIDs decodes the IDs of the public-key descriptors in ds.
func decodeIDs(member string, ds []descriptorJSON) ([][]byte, error) {
	ids := make([][]byte, 0, len(ds))
	for _, d := range ds {
		if d.Type != publicKeyType {
			continue // browsers skip descriptor types they do not know
		}
		id, err := unb64(member+".id", d.ID)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// resolveOrigin picks the origin and RP ID of a ceremony the way a browser
// does: the RP ID defaults to the origin's host, the origin is the caller's.
// Softauthn has no page, so when no origin is set it derives one from the RP ID.
func resolveOrigin(override, fallback, rpID string) (origin, rp string, err error) {
	origin = override
	if origin == "" {
		origin = fallback
	}
	rp = rpID
	if rp == "" {
		if origin == "" {
			return "", "", fmt.Errorf("%w: no RP ID in the options and no origin to derive it from", ErrInvalidOptions)
		}
		u, err := url.Parse(origin)
		if err != nil || u.Hostname() == "" {
			return "", "", fmt.Errorf("%w: cannot derive an RP ID from origin %q", ErrInvalidOptions, origin)
		}
		rp = u.Hostname()
	}
	if origin == "" {
		origin = "https://" + rp
	}
	return origin, rp, nil
}

// clientDataJSON serialises CollectedClientData with the members in the order
// browsers emit them.
func clientDataJSON(typ string, challenge []byte, origin string) ([]byte, error) {
	return json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, b64(challenge), origin, false})
}

// authenticatorData builds rpIdHash || flags || signCount (big-endian) ||
// attestedCredentialData.
func authenticatorData(rpID string, flags byte, signCount uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := make([]byte, 0, len(h)+1+4+len(attested))
	out = append(out, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, signCount)
	return append(out, attested...)
}

// attestedCredentialData builds AAGUID (all zero) || credentialIdLength
// (uint16 big-endian) || credentialId || credentialPublicKey (COSE).
func attestedCredentialData(id, coseKey []byte) []byte {
	out := make([]byte, 16, 16+2+len(id)+len(coseKey))
	out = binary.BigEndian.AppendUint16(out, uint16(len(id)))
	out = append(out, id...)
	return append(out, coseKey...)
}

// coseKey encodes an EC2 P-256 public key as a COSE_Key:
// {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}, keys in CTAP2
// canonical order.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, err
	}
	if len(raw) != 65 {
		return nil, errors.New("softauthn: key is not P-256")
	}
	var b []byte
	b = cborHead(b, cborMap, 5)
	b = cborInt(b, 1)
	b = cborInt(b, 2)
	b = cborInt(b, 3)
	b = cborInt(b, AlgES256)
	b = cborInt(b, -1)
	b = cborInt(b, 1)
	b = cborInt(b, -2)
	b = cborBytes(b, raw[1:33])
	b = cborInt(b, -3)
	return cborBytes(b, raw[33:]), nil
}

// attestationObject encodes {"fmt": "none", "attStmt": {}, "authData": ...},
// keys in CTAP2 canonical order.
func attestationObject(authData []byte) []byte {
	var b []byte
	b = cborHead(b, cborMap, 3)
	b = cborText(b, "fmt")
	b = cborText(b, "none")
	b = cborText(b, "attStmt")
	b = cborHead(b, cborMap, 0)
	b = cborText(b, "authData")
	return cborBytes(b, authData)
}

// CBOR major types (RFC 8949 §3.1). The two structures softauthn emits are
// small and fixed, so they are written by hand rather than through a CBOR
// library: the package then needs nothing outside the standard library.
const (
	cborUint byte = 0 << 5
	cborNeg  byte = 1 << 5
	cborBstr byte = 2 << 5
	cborTstr byte = 3 << 5
	cborMap  byte = 5 << 5
)

// cborHead appends the shortest head for major type m with argument n.
func cborHead(b []byte, m byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), n)
	}
}

// cborInt appends an integer.
func cborInt(b []byte, v int64) []byte {
	if v < 0 {
		return cborHead(b, cborNeg, uint64(-1-v))
	}
	return cborHead(b, cborUint, uint64(v))
}

// cborBytes appends a byte string.
func cborBytes(b, v []byte) []byte {
	return append(cborHead(b, cborBstr, uint64(len(v))), v...)
}

// cborText appends a text string.
func cborText(b []byte, s string) []byte {
	return append(cborHead(b, cborTstr, uint64(len(s))), s...)
}
