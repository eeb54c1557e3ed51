package partner

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/partnerapp"
	"danbao/ent/partnerconnection"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
)

// Service manages partner apps and sellers' connections to them.
type Service struct {
	client *ent.Client
	tokens *auth.Tokens
}

// New returns the service; tokens signs partner access tokens.
func New(client *ent.Client, tokens *auth.Tokens) *Service {
	return &Service{client: client, tokens: tokens}
}

// Created is a new (or re-keyed) partner app with its secret, which is
// shown this once.
type Created struct {
	App          *ent.PartnerApp
	ClientSecret string
}

func newSecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	s := "pcs_" + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(s))
	return s, h[:]
}

func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "pci_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// Create registers a partner app named name for the operator operatorID.
// Errors: INVALID_INPUT (an empty or over-long name).
func (s *Service) Create(ctx context.Context, operatorID pulid.ID, name string) (*Created, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return nil, apperr.New(apperr.InvalidInput, "a partner app needs a name of 1 to 100 characters").WithField("name")
	}
	secret, hash := newSecret()
	app, err := s.client.PartnerApp.Create().SetName(name).SetClientID(newClientID()).
		SetSecretHash(hash).SetCreatedBy(operatorID).Save(ctx)
	if err != nil {
		return nil, err
	}
	return &Created{App: app, ClientSecret: secret}, nil
}

// RotateSecret replaces the app's secret; the old one stops working at
// once, and so do the tokens issued against it for anything but reading
// (auth.Service.CheckSession). Errors: NOT_FOUND.
func (s *Service) RotateSecret(ctx context.Context, appID pulid.ID) (*Created, error) {
	secret, hash := newSecret()
	app, err := s.client.PartnerApp.UpdateOneID(appID).SetSecretHash(hash).Save(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no such partner app").WithField("id")
	}
	if err != nil {
		return nil, err
	}
	return &Created{App: app, ClientSecret: secret}, nil
}

// ErrInvalidClient is returned by Authenticate for an unknown client or a
// wrong secret (the caller learns nothing about which).
var ErrInvalidClient = apperr.New(apperr.Unauthenticated, "invalid client credentials")

// Authenticate checks client credentials and returns the app.
// Errors: UNAUTHENTICATED (ErrInvalidClient).
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (*ent.PartnerApp, error) {
	// No stored client id is longer, or holds anything but printable
	// ASCII: others are refused before the query (PostgreSQL would fail
	// on a NUL or invalid UTF-8, an error of the server's instead of the
	// client's).
	if len(clientID) == 0 || len(clientID) > 64 || strings.IndexFunc(clientID, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return nil, ErrInvalidClient
	}
	h := sha256.Sum256([]byte(secret))
	app, err := s.client.PartnerApp.Query().Where(partnerapp.ClientID(clientID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(h[:], app.SecretHash) != 1 {
		return nil, ErrInvalidClient
	}
	return app, nil
}

// Token issues an access token for the app with every partner scope, or
// the requested subset. Errors: INVALID_INPUT (an unknown scope).
func (s *Service) Token(app *ent.PartnerApp, scope string) (token string, exp time.Time, scopes []string, err error) {
	scopes = auth.PartnerScopes
	if req := strings.Fields(scope); len(req) > 0 {
		for _, sc := range req {
			if !slices.Contains(auth.PartnerScopes, sc) {
				return "", time.Time{}, nil, apperr.New(apperr.InvalidInput, "unknown scope %q", sc).WithField("scope")
			}
		}
		scopes = req
	}
	token, exp, err = s.tokens.IssuePartner(app.ID, scopes, auth.SecretVersion(app.SecretHash))
	return token, exp, scopes, err
}

// Connect lets the partner app with clientID create payments to seller
// (again, if the seller had disconnected it). Errors: NOT_FOUND (no such
// client id).
func (s *Service) Connect(ctx context.Context, sellerID pulid.ID, clientID string) (*ent.PartnerApp, error) {
	var app *ent.PartnerApp
	err := dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		var err error
		app, err = tx.PartnerApp.Query().Where(partnerapp.ClientID(strings.TrimSpace(clientID))).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "no partner app has this client id").WithField("clientId")
		}
		if err != nil {
			return err
		}
		return tx.PartnerConnection.Create().SetPartnerID(app.ID).SetSellerID(sellerID).
			OnConflictColumns(partnerconnection.FieldPartnerID, partnerconnection.FieldSellerID).
			Update(func(u *ent.PartnerConnectionUpsert) { u.ClearRevokedAt(); u.UpdateUpdatedAt() }).Exec(ctx)
	})
	return app, err
}

// Disconnect revokes the seller's connection to the app with clientID.
// Errors: NOT_FOUND (no such app, or not connected).
func (s *Service) Disconnect(ctx context.Context, sellerID pulid.ID, clientID string) (*ent.PartnerApp, error) {
	app, err := s.client.PartnerApp.Query().Where(partnerapp.ClientID(strings.TrimSpace(clientID))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no partner app has this client id").WithField("clientId")
	}
	if err != nil {
		return nil, err
	}
	n, err := s.client.PartnerConnection.Update().
		Where(partnerconnection.PartnerID(app.ID), partnerconnection.SellerID(sellerID), partnerconnection.RevokedAtIsNil()).
		SetRevokedAt(time.Now().UTC().Truncate(time.Microsecond)).Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.New(apperr.NotFound, "this partner app is not connected").WithField("clientId")
	}
	return app, nil
}

// CheckConnected refuses, inside the caller's transaction, a partner that
// the seller has not connected (or has disconnected). Errors: FORBIDDEN.
func CheckConnected(ctx context.Context, tx *ent.Tx, partnerID, sellerID pulid.ID) error {
	ok, err := tx.PartnerConnection.Query().Where(partnerconnection.PartnerID(partnerID),
		partnerconnection.SellerID(sellerID), partnerconnection.RevokedAtIsNil()).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Forbidden, "the seller has not connected this partner app").WithField("payeeId")
	}
	return nil
}
