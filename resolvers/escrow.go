package resolvers

import (
	"context"
	"time"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/apperr"
	"danbao/internal/escrow"
	"danbao/internal/money"
)

// caller is the signed-in caller as the escrow sees it.
func caller(ctx context.Context) (escrow.Caller, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return escrow.Caller{}, err
	}
	return escrow.Caller{UserID: who.UserID, Operator: who.Operator()}, nil
}

// paymentCreator is who pays for a createPayment and the partner app that
// creates it for them, if any: a signed-in user pays themself (and names
// no payerId); a partner app with the payments scope names the payer.
// Errors: UNAUTHENTICATED, FORBIDDEN (scope), INVALID_INPUT (payerId).
func paymentCreator(ctx context.Context, payerID *pulid.ID) (payer, partnerID pulid.ID, err error) {
	if _, ok := auth.PartnerFromContext(ctx); ok {
		p, err := auth.RequirePartner(ctx, auth.ScopePayments)
		if err != nil {
			return "", "", err
		}
		if payerID == nil || *payerID == "" {
			return "", "", apperr.Invalid("payerId", "a partner app names the buyer")
		}
		return *payerID, p.ID, nil
	}
	who, err := auth.Require(ctx)
	if err != nil {
		return "", "", err
	}
	if payerID != nil && *payerID != who.UserID {
		return "", "", apperr.Invalid("payerId", "only partner apps name the buyer; leave payerId out")
	}
	return who.UserID, "", nil
}

// paymentPayload maps the result of a payment mutation.
func paymentPayload(ctx context.Context, p *ent.Payment, replay bool, err error) (*model.PaymentPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	markReplay(ctx, replay)
	return &model.PaymentPayload{Payment: p, UserErrors: ues}, nil
}

// controlPayload maps the result of freezeAccount and restrictCollection.
func controlPayload(c *ent.AccountControl, err error) (*model.AccountControlPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	return &model.AccountControlPayload{AccountControl: c, UserErrors: ues}, nil
}

func decimalPtr(minor int64, c string) *model.Decimal {
	d := decimal(minor, c)
	return &d
}

func paymentDeadlines(p *ent.Payment, maxExtensions int) *model.PaymentDeadlines {
	d := &model.PaymentDeadlines{AuthorizeBy: p.AuthorizeBy, ShipBy: p.ShipBy, AutoConfirmAt: p.AutoConfirmAt,
		RefundAnswerBy: p.RefundAnswerBy, ProtectionUntil: p.ProtectionUntil,
		ExtensionsUsed: p.ExtensionCount, ExtensionsLeft: max(maxExtensions-p.ExtensionCount, 0)}
	if p.AutoConfirmRemaining != nil {
		s := int((time.Duration(*p.AutoConfirmRemaining) * time.Microsecond).Seconds())
		d.AutoConfirmPausedSeconds = &s
	}
	return d
}

func shipment(p *ent.Payment) *model.Shipment {
	if p.ShippedAt == nil {
		return nil
	}
	return &model.Shipment{Carrier: p.Carrier, TrackingNumber: p.TrackingNumber, ShippedAt: *p.ShippedAt}
}

func refundRequest(p *ent.Payment) *model.RefundRequest {
	if p.RefundRequestAmount == nil {
		return nil
	}
	return &model.RefundRequest{Amount: decimal(*p.RefundRequestAmount, p.Currency), Reason: p.RefundReason, AnswerBy: p.RefundAnswerBy}
}

func paymentFilter(f *model.PaymentFilter) escrow.Filter {
	var out escrow.Filter
	if f == nil {
		return out
	}
	if f.Role != nil {
		out.Role = escrow.Actor(*f.Role)
	}
	if f.Status != nil {
		out.Statuses = []escrow.State{escrow.State(*f.Status)}
	}
	out.From, out.To = f.From, f.To
	return out
}

// eventDetail is e's detail as the caller may read it (escrow.DetailFor).
func eventDetail(ctx context.Context, e *ent.PaymentEvent, p *ent.Payment) map[string]any {
	if who, err := caller(ctx); err == nil {
		return escrow.DetailFor(&who, p, e.Detail)
	}
	return escrow.DetailFor(nil, p, e.Detail)
}

func protectionBalance(bal int64, c money.Currency, err error) (*model.FundProtectionPayload, error) {
	ues, err := payloadErrors(err)
	if err != nil {
		return nil, err
	}
	out := &model.FundProtectionPayload{UserErrors: ues}
	if len(ues) == 0 {
		out.Balance = decimalPtr(bal, string(c))
	}
	return out, nil
}
