package events

import (
	"context"
	"fmt"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// Viewer is who follows a stream: a user (UserID) or a partner app
// (PartnerID), never both.
type Viewer struct {
	UserID    pulid.ID
	PartnerID pulid.ID
}

// PaymentTypes is the type prefix of payment events.
const PaymentTypes = "payment."

// PaymentFilter selects the payment events v may see, of one payment when
// paymentID is set: a user sees the rows written for them (each party of a
// payment gets its own row per transition, so each transition once); a
// partner sees the rows marked with its id (one per transition of the
// payments it created).
func PaymentFilter(v Viewer, paymentID pulid.ID) Filter {
	f := Filter{TypePrefix: PaymentTypes, SubjectID: paymentID}
	if v.PartnerID != "" {
		f.PartnerID = v.PartnerID
	} else {
		f.UserID = v.UserID
	}
	return f
}

// CheckVisible refuses a filter under which the viewer can see nothing
// about its subject yet: every payment writes a created event for both
// parties (and its partner) in the transaction that creates it, so a
// payment of the viewer's always has one. Errors: NOT_FOUND.
func CheckVisible(ctx context.Context, client *ent.Client, f Filter) error {
	rows, err := ReadAfter(ctx, client, 0, 1, f)
	if err != nil {
		return fmt.Errorf("events: visibility: %w", err)
	}
	if len(rows) == 0 {
		return apperr.New(apperr.NotFound, "no such payment among yours").WithArgument("paymentId")
	}
	return nil
}
