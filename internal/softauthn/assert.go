package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
)

// AssertOptions changes one Assert call, mostly to make the response wrong in
// one chosen way. The zero value gives an honest response.
type AssertOptions struct {
	// Origin replaces the clientDataJSON origin (default Authenticator.Origin).
	Origin string
	// RPID replaces the RP ID whose hash goes into authenticatorData, to
	// produce a wrong RP ID hash. The credential is still chosen by the RP ID
	// of the options.
	RPID string
	// Challenge, when not empty, replaces the challenge written into
	// clientDataJSON, to answer a different ceremony (another payment, a
	// replayed challenge).
	Challenge []byte
	// OmitUV clears the UV flag, as an authenticator that only tested presence.
	OmitUV bool
	// SignCount, when set, is reported and stored as the credential's counter
	// instead of the incremented one, e.g. to model a regression or a clone.
	SignCount *uint32
	// CredentialID, when not empty, picks the credential to answer with, among those held for
	// the RP ID, even when allowCredentials does not list it (to check that
	// the server enforces its allow list).
	CredentialID []byte
	// BackupEligible, when set, replaces the credential's BE flag in this
	// response only.
	BackupEligible *bool
	// BackupState, when set, replaces the credential's BS flag in this
	// response only.
	BackupState *bool
	// OmitUserHandle leaves out response.userHandle, as a non-discoverable
	// credential would.
	OmitUserHandle bool
	// CredentialType replaces the "type" member (default "public-key").
	CredentialType string
	// ClientDataType replaces clientDataJSON's type (default "webauthn.get").
	ClientDataType string
}

// AuthenticationResponseJSON is what PublicKeyCredential.toJSON() returns
// after navigator.credentials.get(). Binary members are base64url, no padding.
type AuthenticationResponseJSON struct {
	ID                      string                         `json:"id"`
	RawID                   string                         `json:"rawId"`
	Response                AuthenticatorAssertionResponse `json:"response"`
	AuthenticatorAttachment string                         `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any                 `json:"clientExtensionResults"`
	Type                    string                         `json:"type"`
}

// AuthenticatorAssertionResponse is the "response" member of an
// AuthenticationResponseJSON.
type AuthenticatorAssertionResponse struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"` // ECDSA, ASN.1 DER
	UserHandle        string `json:"userHandle,omitempty"`
}

// requestOptionsJSON is the part of PublicKeyCredentialRequestOptionsJSON
// that softauthn acts on.
type requestOptionsJSON struct {
	Challenge        string           `json:"challenge"`
	RPID             string           `json:"rpId"`
	AllowCredentials []descriptorJSON `json:"allowCredentials"`
}

// Assert answers navigator.credentials.get(): it reads the request options
// (bare PublicKeyCredentialRequestOptionsJSON or go-webauthn's
// {"publicKey": ...}), picks a held credential for the RP ID (one listed in
// allowCredentials when that is not empty, else the most recent, unless
// opts.CredentialID names one), increments its signature counter and returns
// the signed AuthenticationResponseJSON. The signature covers
// authenticatorData || SHA-256(clientDataJSON).
//
// Errors: ErrInvalidOptions, ErrNoCredential.
func (a *Authenticator) Assert(optionsJSON []byte, opts AssertOptions) ([]byte, error) {
	raw, err := unwrapOptions(optionsJSON)
	if err != nil {
		return nil, err
	}
	var o requestOptionsJSON
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	challenge, err := unb64("challenge", o.Challenge)
	if err != nil {
		return nil, err
	}
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: empty challenge", ErrInvalidOptions)
	}
	allowed, err := decodeIDs("allowCredentials", o.AllowCredentials)
	if err != nil {
		return nil, err
	}
	origin, rpID, err := resolveOrigin(opts.Origin, a.Origin, o.RPID)
	if err != nil {
		return nil, err
	}
	cred, err := a.use(rpID, allowed, opts)
	if err != nil {
		return nil, err
	}

	if opts.RPID != "" {
		rpID = opts.RPID
	}
	if len(opts.Challenge) > 0 {
		challenge = opts.Challenge
	}
	be, bs := cred.BackupEligible, cred.BackupState
	if opts.BackupEligible != nil {
		be = *opts.BackupEligible
	}
	if opts.BackupState != nil {
		bs = *opts.BackupState
	}
	flags := flagUP | backupFlags(be, bs)
	if !opts.OmitUV {
		flags |= flagUV
	}
	authData := authenticatorData(rpID, flags, cred.SignCount, nil)
	cdj, err := clientDataJSON(orDefault(opts.ClientDataType, typeGet), challenge, origin)
	if err != nil {
		return nil, err
	}
	cdHash := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(bytes.Clone(authData), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.PrivateKey, digest[:])
	if err != nil {
		return nil, err
	}

	resp := AuthenticatorAssertionResponse{
		ClientDataJSON:    b64(cdj),
		AuthenticatorData: b64(authData),
		Signature:         b64(sig),
	}
	if !opts.OmitUserHandle {
		resp.UserHandle = b64(cred.UserHandle)
	}
	return json.Marshal(AuthenticationResponseJSON{
		ID:                      b64(cred.ID),
		RawID:                   b64(cred.ID),
		Response:                resp,
		AuthenticatorAttachment: AuthenticatorAttachment,
		ClientExtensionResults:  map[string]any{},
		Type:                    orDefault(opts.CredentialType, publicKeyType),
	})
}

// use picks the credential an assertion answers with and advances its
// counter, both under the lock so concurrent assertions with one credential
// report distinct counters. It returns a copy taken after the update.
func (a *Authenticator) use(rpID string, allowed [][]byte, opts AssertOptions) (*Credential, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var picked *Credential
	for i := len(a.creds) - 1; i >= 0 && picked == nil; i-- { // most recent first
		c := a.creds[i]
		if c.RPID != rpID {
			continue
		}
		switch {
		case len(opts.CredentialID) > 0:
			if bytes.Equal(c.ID, opts.CredentialID) {
				picked = c
			}
		case len(allowed) > 0:
			for _, id := range allowed {
				if bytes.Equal(c.ID, id) {
					picked = c
					break
				}
			}
		default:
			picked = c
		}
	}
	if picked == nil {
		return nil, fmt.Errorf("%w for RP ID %q", ErrNoCredential, rpID)
	}
	if opts.SignCount != nil {
		picked.SignCount = *opts.SignCount
	} else {
		picked.SignCount++
	}
	return picked.clone(), nil
}
