package softauthn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
)

// credentialIDLen is the length of generated credential IDs.
const credentialIDLen = 16

// RegisterOptions changes one Register call, mostly to make the response
// wrong in one chosen way. The zero value gives an honest response.
type RegisterOptions struct {
	// Origin replaces the clientDataJSON origin (default Authenticator.Origin).
	Origin string
	// RPID replaces the RP ID the credential is scoped to and whose hash goes
	// into authenticatorData, to produce a wrong RP ID hash. The credential is
	// stored under this RP ID.
	RPID string
	// Challenge, when not empty, replaces the challenge written into
	// clientDataJSON, to answer a different ceremony.
	Challenge []byte
	// OmitUV clears the UV flag, as an authenticator that only tested presence.
	OmitUV bool
	// BackupEligible sets the BE flag on the credential for its whole life.
	BackupEligible bool
	// BackupState sets the BS flag on the credential (alone it is the invalid
	// BE=0 BS=1 combination).
	BackupState bool
	// CredentialID, when not empty, fixes the credential ID instead of a
	// random 16-byte one, e.g. to register one ID twice.
	CredentialID []byte
	// IgnoreExcludeCredentials registers even when the authenticator holds a
	// credential named in excludeCredentials, instead of failing with
	// ErrExcluded as a browser would.
	IgnoreExcludeCredentials bool
	// CredentialType replaces the "type" member (default "public-key").
	CredentialType string
	// ClientDataType replaces clientDataJSON's type (default "webauthn.create").
	ClientDataType string
}

// RegistrationResponseJSON is what PublicKeyCredential.toJSON() returns after
// navigator.credentials.create(). Binary members are base64url, no padding.
type RegistrationResponseJSON struct {
	ID                      string                           `json:"id"`
	RawID                   string                           `json:"rawId"`
	Response                AuthenticatorAttestationResponse `json:"response"`
	AuthenticatorAttachment string                           `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any                   `json:"clientExtensionResults"`
	Type                    string                           `json:"type"`
}

// AuthenticatorAttestationResponse is the "response" member of a
// RegistrationResponseJSON.
type AuthenticatorAttestationResponse struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey"` // SubjectPublicKeyInfo, DER
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	AttestationObject  string   `json:"attestationObject"`
}

// creationOptionsJSON is the part of PublicKeyCredentialCreationOptionsJSON
// that softauthn acts on.
type creationOptionsJSON struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge          string           `json:"challenge"`
	PubKeyCredParams   []credParamJSON  `json:"pubKeyCredParams"`
	ExcludeCredentials []descriptorJSON `json:"excludeCredentials"`
	Extensions         struct {
		CredProps bool `json:"credProps"`
	} `json:"extensions"`
}

// credParamJSON is a PublicKeyCredentialParameters entry.
type credParamJSON struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// Register answers navigator.credentials.create(): it reads the creation
// options (bare PublicKeyCredentialCreationOptionsJSON or go-webauthn's
// {"publicKey": ...}), creates and stores a new ES256 credential with "none"
// attestation, and returns the RegistrationResponseJSON together with a copy
// of the stored credential. The signature counter starts at 0; UP and UV are
// set unless opts says otherwise; a requested credProps extension is answered
// with {"rk": true}. user.id and challenge are read as base64url, as
// PublicKeyCredential.parseCreationOptionsFromJSON does.
//
// Errors: ErrInvalidOptions, ErrUnsupportedAlgorithm, ErrExcluded.
func (a *Authenticator) Register(optionsJSON []byte, opts RegisterOptions) ([]byte, *Credential, error) {
	raw, err := unwrapOptions(optionsJSON)
	if err != nil {
		return nil, nil, err
	}
	var o creationOptionsJSON
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	challenge, err := unb64("challenge", o.Challenge)
	if err != nil {
		return nil, nil, err
	}
	if len(challenge) == 0 {
		return nil, nil, fmt.Errorf("%w: empty challenge", ErrInvalidOptions)
	}
	userHandle, err := unb64("user.id", o.User.ID)
	if err != nil {
		return nil, nil, err
	}
	if len(userHandle) == 0 || len(userHandle) > 64 {
		return nil, nil, fmt.Errorf("%w: user.id must be 1 to 64 bytes", ErrInvalidOptions)
	}
	if len(o.PubKeyCredParams) > 0 && !hasES256(o.PubKeyCredParams) {
		return nil, nil, ErrUnsupportedAlgorithm
	}
	origin, rpID, err := resolveOrigin(opts.Origin, a.Origin, o.RP.ID)
	if err != nil {
		return nil, nil, err
	}
	if !opts.IgnoreExcludeCredentials {
		excluded, err := decodeIDs("excludeCredentials", o.ExcludeCredentials)
		if err != nil {
			return nil, nil, err
		}
		if a.holdsAny(rpID, excluded) {
			return nil, nil, ErrExcluded
		}
	}
	if opts.RPID != "" {
		rpID = opts.RPID
	}
	if len(opts.Challenge) > 0 {
		challenge = opts.Challenge
	}

	id := bytes.Clone(opts.CredentialID)
	if len(id) == 0 {
		id = make([]byte, credentialIDLen)
		if _, err := rand.Read(id); err != nil {
			return nil, nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	cred := &Credential{
		ID:             id,
		PrivateKey:     key,
		RPID:           rpID,
		UserHandle:     userHandle,
		BackupEligible: opts.BackupEligible,
		BackupState:    opts.BackupState,
	}

	cose, err := coseKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	flags := flagUP | flagAT | backupFlags(cred.BackupEligible, cred.BackupState)
	if !opts.OmitUV {
		flags |= flagUV
	}
	authData := authenticatorData(rpID, flags, cred.SignCount, attestedCredentialData(id, cose))
	attObj := attestationObject(authData)
	cdj, err := clientDataJSON(orDefault(opts.ClientDataType, typeCreate), challenge, origin)
	if err != nil {
		return nil, nil, err
	}

	ext := map[string]any{}
	if o.Extensions.CredProps {
		ext["credProps"] = map[string]bool{"rk": true}
	}
	out, err := json.Marshal(RegistrationResponseJSON{
		ID:    b64(id),
		RawID: b64(id),
		Response: AuthenticatorAttestationResponse{
			ClientDataJSON:     b64(cdj),
			AuthenticatorData:  b64(authData),
			Transports:         transports,
			PublicKey:          b64(spki),
			PublicKeyAlgorithm: AlgES256,
			AttestationObject:  b64(attObj),
		},
		AuthenticatorAttachment: AuthenticatorAttachment,
		ClientExtensionResults:  ext,
		Type:                    orDefault(opts.CredentialType, publicKeyType),
	})
	if err != nil {
		return nil, nil, err
	}
	a.store(cred)
	return out, cred.clone(), nil
}

// hasES256 reports whether pubKeyCredParams offers public-key ES256.
func hasES256(params []credParamJSON) bool {
	for _, p := range params {
		if p.Type == publicKeyType && p.Alg == AlgES256 {
			return true
		}
	}
	return false
}

// holdsAny reports whether a credential for rpID with one of ids is held.
func (a *Authenticator) holdsAny(rpID string, ids [][]byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if c.RPID != rpID {
			continue
		}
		for _, id := range ids {
			if bytes.Equal(c.ID, id) {
				return true
			}
		}
	}
	return false
}

// backupFlags returns the BE and BS bits for the given state.
func backupFlags(eligible, state bool) byte {
	var f byte
	if eligible {
		f |= flagBE
	}
	if state {
		f |= flagBS
	}
	return f
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
