package escrow

import (
	"context"
	"database/sql"
	"fmt"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/limits"
)

// readParties reads, in one statement, what creating a payment from $1 to
// $2 checks of its parties: the payee's role (NULL: no such user), the
// payer's and the payee's verification levels (those of their identity
// bindings, as realname.Service.Level reads them; $3, unverified, for
// none), the payer's freeze and its reason and the payee's collection
// restriction (NULL: no account_controls row).
const readParties = `SELECT
	(SELECT role FROM users WHERE id = $2),
	COALESCE((SELECT level FROM identity_bindings WHERE user_id = $1), $3),
	COALESCE((SELECT level FROM identity_bindings WHERE user_id = $2), $3),
	(SELECT frozen FROM account_controls WHERE user_id = $1),
	(SELECT frozen_reason FROM account_controls WHERE user_id = $1),
	(SELECT collection_restricted FROM account_controls WHERE user_id = $2)`

// checkParties refuses, inside the transaction that creates a payment from
// payer to payee, with one read of both (readParties) and in this order:
// a payee that is not a wallet user (NOT_FOUND payeeId), an unverified
// payer (limits.Verified's VERIFICATION_REQUIRED) or payee
// (VERIFICATION_REQUIRED payeeId), then the controls (checkControls).
func checkParties(ctx context.Context, tx *ent.Tx, payer, payee pulid.ID) error {
	var role, reason sql.NullString
	var payerLevel, payeeLevel string
	var frozen, restricted sql.NullBool
	if err := dbtx.QueryRow(ctx, tx.Client(), []any{&role, &payerLevel, &payeeLevel, &frozen, &reason, &restricted}, readParties,
		string(payer), string(payee), string(kyc.Unverified)); err != nil {
		return fmt.Errorf("escrow: read the parties: %w", err)
	}
	if role.String != string(user.RoleUSER) {
		return noPayee()
	}
	if err := limits.Verified(kyc.Level(payerLevel)); err != nil {
		return err
	}
	if limits.Verified(kyc.Level(payeeLevel)) != nil {
		return apperr.New(apperr.VerificationRequired, "the payee has not completed real-name verification").WithField("payeeId")
	}
	return checkControls(limits.Controls{Frozen: frozen.Bool, FrozenReason: reason.String, Restricted: restricted.Bool})
}

// checkControls is CheckNotFrozen for the payer and checkCollect for the
// payee, refused in that order, on controls already read (checkParties;
// limits.RecordChecked in authorizeTx). Errors: ACCOUNT_FROZEN (extensions
// restriction FROZEN, reason; or field payeeId, restriction
// COLLECTION_RESTRICTED).
func checkControls(c limits.Controls) error {
	if c.Frozen {
		return frozen(c.FrozenReason)
	}
	if c.Restricted {
		return restricted()
	}
	return nil
}

func noPayee() error {
	return apperr.New(apperr.NotFound, "no such payee").WithField("payeeId")
}
