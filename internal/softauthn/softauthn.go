package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"slices"
	"sync"
)

// AlgES256 is the COSE algorithm identifier of ECDSA with P-256 and SHA-256,
// the only algorithm softauthn signs with.
const AlgES256 = -7

// AuthenticatorAttachment is the attachment softauthn reports: it models a
// platform authenticator (Touch ID, Windows Hello, Android screen lock).
const AuthenticatorAttachment = "platform"

// Errors returned by Register and Assert, to be matched with errors.Is. They
// stand for the DOMExceptions a browser would raise.
var (
	// ErrInvalidOptions means the options JSON is malformed or misses a
	// required member (a browser's TypeError).
	ErrInvalidOptions = errors.New("softauthn: invalid options")
	// ErrUnsupportedAlgorithm means pubKeyCredParams lists algorithms but not
	// ES256 (a browser's NotSupportedError).
	ErrUnsupportedAlgorithm = errors.New("softauthn: pubKeyCredParams has no ES256")
	// ErrExcluded means the authenticator holds a credential named in
	// excludeCredentials (a browser's InvalidStateError).
	ErrExcluded = errors.New("softauthn: authenticator holds an excluded credential")
	// ErrNoCredential means no held credential matches the RP ID, the
	// allowCredentials list or AssertOptions.CredentialID (a browser's
	// NotAllowedError).
	ErrNoCredential = errors.New("softauthn: no matching credential")
)

// Credential is one passkey held by an Authenticator: an ES256 key pair
// scoped to an RP ID and a user handle, with its signature counter and backup
// flags (which a real authenticator reports the same way on every use).
type Credential struct {
	// ID is the credential ID (rawId).
	ID []byte
	// PrivateKey is the P-256 signing key.
	PrivateKey *ecdsa.PrivateKey
	// RPID is the RP ID the credential is scoped to; its SHA-256 is the
	// rpIdHash of every authenticatorData the credential produces.
	RPID string
	// UserHandle is user.id from the creation options, returned as
	// response.userHandle on every assertion.
	UserHandle []byte
	// SignCount is the signature counter reported by the last response.
	SignCount uint32
	// BackupEligible is the BE flag (0x08): the credential may be synced.
	BackupEligible bool
	// BackupState is the BS flag (0x10): the credential is synced.
	BackupState bool
}

// clone returns a copy that shares nothing mutable with c. The private key is
// shared: it is never modified after generation.
func (c *Credential) clone() *Credential {
	cp := *c
	cp.ID = bytes.Clone(c.ID)
	cp.UserHandle = bytes.Clone(c.UserHandle)
	return &cp
}

// Authenticator is a software platform authenticator together with the
// browser in front of it. The zero value is usable; New returns one too.
type Authenticator struct {
	// Origin is the origin written into clientDataJSON unless the call's
	// options override it. When empty, "https://" + RP ID is used.
	Origin string

	mu    sync.Mutex
	creds []*Credential // in order of registration or import; the last is the most recent
}

// New returns an empty Authenticator with no default origin.
func New() *Authenticator {
	return &Authenticator{}
}

// Credentials returns copies of the held credentials, oldest first. Changing
// them does not change the authenticator; use Import for that.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Credential, len(a.creds))
	for i, c := range a.creds {
		out[i] = c.clone()
	}
	return out
}

// Import stores a copy of c as the most recent credential, replacing a held
// credential with the same ID. Importing a credential taken from another
// Authenticator models a cloned authenticator (both then count signatures
// independently) or a device holding another user's passkey. c must carry a
// P-256 PrivateKey; a nil c is ignored.
func (a *Authenticator) Import(c *Credential) {
	if c == nil {
		return
	}
	a.store(c.clone())
}

// Remove deletes the credential with the given ID and reports whether it was
// held, e.g. to drop a credential whose registration the server refused.
func (a *Authenticator) Remove(id []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.creds)
	a.creds = slices.DeleteFunc(a.creds, func(c *Credential) bool { return bytes.Equal(c.ID, id) })
	return len(a.creds) != n
}

// store appends c (owned by the authenticator from now on), dropping any held
// credential with the same ID so IDs stay unique.
func (a *Authenticator) store(c *Credential) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creds = slices.DeleteFunc(a.creds, func(h *Credential) bool { return bytes.Equal(h.ID, c.ID) })
	a.creds = append(a.creds, c)
}
