package passkey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/passkeysession"
	"danbao/ent/passkeyuser"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"

	"github.com/go-webauthn/webauthn/webauthn"
)

// finishDirect is FinishPaymentAlone on PostgreSQL: no transaction, so no
// BEGIN and no COMMIT; each statement commits by itself (autocommit), and a
// successful finish sends two:
//
//  1. consumeBoundSQL: DELETE the session of the challenge RETURNING it,
//     joined to the payer's handle and passkeys (a data-modifying CTE);
//  2. the passkey's UPDATE, a compare-and-set on the counter that was read
//     (writeBack).
//
// (The transaction made them BEGIN, DELETE, SELECT, UPDATE, COMMIT.) Why
// the guarantees are those of the transaction:
//
//   - A spent challenge never comes back. The DELETE's own commit spends
//     it, before anything is verified. In the transaction it was spent by
//     the commit, or after a rollback by RecordFailure's DELETE: spent
//     either way, now by one statement instead of two. Of concurrent
//     finishes presenting one challenge, the DELETE lets one have the row;
//     the others wait for its lock, find the row gone and return nothing:
//     PASSKEY_INVALID, as a replay of a used assertion is.
//   - The counter's compare-and-set (WHERE sign_count = the value read,
//     not revoked, not clone-suspected) does not need the read in the same
//     transaction: two assertions verified against one stored counter
//     still cannot both be written (the second updates nothing: CONFLICT),
//     a revocation or suspicion committed since the read still wins, and a
//     counter going backwards (go-webauthn's CloneWarning, from the value
//     read) is refused and marked (markClone, a statement of its own; it
//     was RecordFailure's transaction).
//   - A crash, a cancelled request or an error between the two statements
//     leaves the challenge spent and the counter as it was: the assertion
//     authorized nothing (escrow moves money only with the Evidence
//     returned after the second statement) and cannot be presented again;
//     the payer begins again. No state is half-written that a later finish
//     would trust: the next assertion of the passkey carries a higher
//     counter, which the compare-and-set accepts.
//   - All of the refusals keep their codes: the checks are finishBound's,
//     in the same order, on the same rows.
//
// SQLite keeps the transaction: its writes must pass the client's writer
// gate (dbtx.WithTx), or they would meet another writer in SQLite's busy
// handler and its sleeps. On PostgreSQL the gate only bounds how many
// transactions hold the hottest rows' locks at once; these two statements
// lock a session row and the payer's passkey row for a statement each.
func (s *Service) finishDirect(ctx context.Context, in PaymentChallengeInput, credentialJSON []byte) (*Evidence, error) {
	ev, err := s.finishPayment(ctx, nil, in, credentialJSON)
	if err == nil {
		return ev, nil
	}
	// The session, if any, is already deleted; what else must stick is a
	// clone suspicion, written even if the request is being cancelled.
	var f *failure
	if errors.As(err, &f) && f.cloneOf != "" {
		if merr := markClone(context.WithoutCancel(ctx), s.client.Passkey, f.cloneOf, s.clock()); merr != nil {
			s.log.ErrorContext(ctx, "passkey: recording a failed ceremony", "error", merr, "failure", err.Error())
		}
	}
	return nil, err
}

// consumeBoundSQL deletes the session whose challenge is $1 and returns
// it joined to the WebAuthn handle and every passkey of user $2: one row
// per passkey in ID order (one with NULL passkey columns when the user has
// none), none when no session has the challenge. Columns: the session's
// in passkeysession.Columns order, the handle, the passkey's in
// passkey.Columns order (boundRow). All sub-statements of a statement see
// one snapshot, taken when it starts; the passkeys are read as a
// transaction's SELECT after the DELETE would have read them, and
// writeBack's compare-and-set covers what commits in between.
var consumeBoundSQL = "WITH s AS (DELETE FROM " + passkeysession.Table + " WHERE " + passkeysession.FieldChallenge + " = $1 RETURNING " +
	strings.Join(passkeysession.Columns, ", ") + ")\nSELECT " + prefixed("s", passkeysession.Columns) + ", h." + passkeyuser.FieldHandle +
	", " + prefixed("p", passkey.Columns) + "\nFROM s LEFT JOIN " + passkeyuser.Table + " h ON h." + passkeyuser.FieldUserID + " = $2" +
	" LEFT JOIN " + passkey.Table + " p ON p." + passkey.FieldUserID + " = $2\nORDER BY p." + passkey.FieldID

// readBoundSQL is consumeBoundSQL without the DELETE: the session whose
// challenge is $1, joined to user $2's handle and passkeys, read only
// (SQLite's payment finish: finishPayment outside a transaction).
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

// consumeBound reads the session whose challenge the response carries and
// userID's handle and passkeys in one statement outside any transaction:
// what consume and boundUser do in a transaction. On PostgreSQL the
// statement also spends the session, committed by itself
// (consumeBoundSQL); on SQLite it only reads (readBoundSQL), and spend
// deletes the session later, in the writer's short transaction. Errors:
// PASSKEY_INVALID (no such session).
func (s *Service) consumeBound(ctx context.Context, challenge string, userID pulid.ID) (*ent.PasskeySession, *user, []*ent.Passkey, error) {
	if challenge == "" {
		return nil, nil, nil, unknownChallenge()
	}
	query := readBoundSQL
	if s.direct {
		query = consumeBoundSQL
	}
	rows, err := s.client.QueryContext(ctx, query, challenge, string(userID))
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

// beforeWrite, set by tests only, runs in a finish outside a transaction
// (FinishPaymentAlone) between the verification and the writes: what
// commits then must still be seen by the writes' compare-and-set.
var beforeWrite func()

// spend is the write of SQLite's payment finish, once everything was
// verified outside any transaction (finishSplit): in one transaction of
// the writer, the session's DELETE (none deleted: a concurrent finish of
// the same challenge spent it first, PASSKEY_INVALID) and the counter's
// compare-and-set (writeBack). A refusal of the compare-and-set rolls the
// DELETE back with it; the caller's RecordFailure then spends the session.
func (s *Service) spend(ctx context.Context, ps *ent.PasskeySession, p *ent.Passkey, c *webauthn.Credential) error {
	return dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		n, err := tx.PasskeySession.Delete().Where(passkeysession.ID(ps.ID)).Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return unknownChallenge()
		}
		return s.writeBack(ctx, tx.Passkey, ps, p, c, true)
	})
}

// finishSplit is FinishPaymentAlone on SQLite. The session and the payer's
// passkeys are read, and the assertion verified, outside any transaction
// (consumeBound with readBoundSQL), on a reader's connection; only the
// writes, the session's DELETE and the counter's compare-and-set, take
// a turn of the one writer (spend). Verified inside the writer's turn,
// the finish held it for the reads and the signature's verification
// (about a fifth of what authorizations did in the writer's turns).
// The guarantees are finishDirect's: the DELETE lets one of concurrent
// finishes of one challenge through; the compare-and-set keeps two
// assertions checked against one stored counter from both being
// written, and a revocation or suspicion committed since the read wins;
// a refusal spends the session and records a clone suspicion
// (RecordFailure), even when the request is being cancelled.
func (s *Service) finishSplit(ctx context.Context, in PaymentChallengeInput, credentialJSON []byte) (*Evidence, error) {
	ev, err := s.finishPayment(ctx, nil, in, credentialJSON)
	if err == nil {
		return ev, nil
	}
	if rerr := s.RecordFailure(context.WithoutCancel(ctx), err); rerr != nil {
		s.log.ErrorContext(ctx, "passkey: recording a failed ceremony", "error", rerr, "failure", err.Error())
	}
	return nil, err
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}
