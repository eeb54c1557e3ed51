package passkey

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/passkeysession"
	"danbao/ent/passkeyuser"
	"danbao/ent/schema/pulid"
)

// readBoundSQL reads the session whose challenge is $1 joined to user
// $2's WebAuthn handle and passkeys: one row per passkey in ID order (one
// with NULL passkey columns when the user has none), none when no session
// has the challenge. Columns: the session's in passkeysession.Columns
// order, the handle, the passkey's in passkey.Columns order. Both engines
// read it in one snapshot; SpendPayment's DELETE and compare-and-set
// cover what commits between this read and the spending transaction.
var readBoundSQL = "SELECT " + prefixed("s", passkeysession.Columns) + ", h." + passkeyuser.FieldHandle +
	", " + prefixed("p", passkey.Columns) + "\nFROM " + passkeysession.Table + " s LEFT JOIN " + passkeyuser.Table +
	" h ON h." + passkeyuser.FieldUserID + " = $2 LEFT JOIN " + passkey.Table + " p ON p." + passkey.FieldUserID +
	" = $2\nWHERE s." + passkeysession.FieldChallenge + " = $1\nORDER BY p." + passkey.FieldID

func prefixed(table string, columns []string) string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = table + "." + c
	}
	return strings.Join(out, ", ")
}

// readBound reads the session whose challenge the response carries and
// userID's handle and passkeys in one statement outside any transaction
// (readBoundSQL): what consume and boundUser read in a transaction,
// without spending anything. Errors: PASSKEY_INVALID (no such session).
func (s *Service) readBound(ctx context.Context, challenge string, userID pulid.ID) (*ent.PasskeySession, *user, []*ent.Passkey, error) {
	if challenge == "" {
		return nil, nil, nil, unknownChallenge()
	}
	rows, err := s.client.QueryContext(ctx, readBoundSQL, challenge, string(userID))
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	var (
		ps     *ent.PasskeySession
		handle []byte
		all    []*ent.Passkey
	)
	for rows.Next() {
		var (
			r sessionRow
			h []byte
			p passkeyRow
		)
		if err := rows.Scan(append(append(r.dest(), &h), p.dest()...)...); err != nil {
			return nil, nil, nil, fmt.Errorf("passkey session and passkeys: %w", err)
		}
		if ps == nil {
			ps, handle = r.session(), h
		}
		k, err := p.passkey()
		if err != nil {
			return nil, nil, nil, err
		}
		if k != nil {
			all = append(all, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, nil, nil, err
	}
	if ps == nil {
		return nil, nil, nil, unknownChallenge()
	}
	wu := &user{u: &ent.User{ID: userID}, handle: handle}
	for _, p := range all {
		wu.creds = append(wu.creds, credential(p))
	}
	return ps, wu, all, nil
}

// passkeyRow receives a row of passkey.Columns (in that order), all NULL
// when a LEFT JOIN found no passkey, as ent would read it.
type passkeyRow struct {
	id, userID, rpID, nickname, attestationFormat, attestationType, attachment sql.NullString
	createdAt, updatedAt, cloneSuspectedAt, lastUsedAt, revokedAt              sql.NullTime
	credentialID, publicKey, aaguid, transports, attestation                   []byte
	flags, signCount                                                           sql.NullInt64
	userVerified, backupEligible, backedUp, cloneSuspected                     sql.NullBool
}

// dest is what to scan the columns into, in passkey.Columns order.
func (r *passkeyRow) dest() []any {
	return []any{&r.id, &r.createdAt, &r.updatedAt, &r.userID, &r.credentialID, &r.publicKey, &r.rpID, &r.nickname,
		&r.attestationFormat, &r.attestationType, &r.aaguid, &r.transports, &r.attachment, &r.flags,
		&r.userVerified, &r.backupEligible, &r.backedUp, &r.signCount, &r.cloneSuspected,
		&r.cloneSuspectedAt, &r.lastUsedAt, &r.revokedAt, &r.attestation}
}

// passkey is the scanned row as ent's entity, nil for a row of NULLs.
func (r *passkeyRow) passkey() (*ent.Passkey, error) {
	if !r.id.Valid {
		return nil, nil
	}
	p := &ent.Passkey{
		ID: pulid.ID(r.id.String), CreatedAt: r.createdAt.Time, UpdatedAt: r.updatedAt.Time,
		UserID: pulid.ID(r.userID.String), CredentialID: r.credentialID, PublicKey: r.publicKey,
		RpID: r.rpID.String, Nickname: r.nickname.String,
		AttestationFormat: r.attestationFormat.String, AttestationType: r.attestationType.String,
		Aaguid: r.aaguid, AuthenticatorAttachment: r.attachment.String,
		Flags: int(r.flags.Int64), UserVerified: r.userVerified.Bool, BackupEligible: r.backupEligible.Bool,
		BackedUp: r.backedUp.Bool, SignCount: r.signCount.Int64, CloneSuspected: r.cloneSuspected.Bool,
		CloneSuspectedAt: timePtr(r.cloneSuspectedAt), LastUsedAt: timePtr(r.lastUsedAt), RevokedAt: timePtr(r.revokedAt),
		Attestation: r.attestation,
	}
	if len(r.transports) > 0 {
		if err := json.Unmarshal(r.transports, &p.Transports); err != nil {
			return nil, fmt.Errorf("passkey %s transports: %w", p.ID, err)
		}
	}
	return p, nil
}

// beforeWrite, set by tests only, runs at the end of a successful
// VerifyPayment, between the verification and SpendPayment's writes: what
// commits then must still be seen by the writes' compare-and-set.
var beforeWrite func()

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}
