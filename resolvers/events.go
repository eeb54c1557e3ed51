package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/events"
)

// subscribe takes one of the connection's subscription slots and streams
// the events matching f after the cursor after (nil: from now on), each
// converted by load (false skips it). The caller has authorized f.
// Errors: RATE_LIMITED, INVALID_INPUT (a bad cursor).
func subscribe[T any](ctx context.Context, r *Resolver, after *string, f events.Filter, load func(context.Context, *ent.Event) (T, bool, error)) (<-chan T, error) {
	pos, err := events.Start(ctx, r.Client, after)
	if err != nil {
		return nil, err
	}
	if err := r.Sockets.acquireSubscription(ctx); err != nil {
		return nil, err
	}
	return events.StreamLoad(ctx, r.Events, pos, f, nil, load), nil
}

// viewer is the signed-in user, or a partner app with the payments scope.
// Errors: UNAUTHENTICATED, FORBIDDEN (a partner token without the scope).
func viewer(ctx context.Context) (events.Viewer, error) {
	if p, ok := auth.PartnerFromContext(ctx); ok {
		_, err := auth.RequirePartner(ctx, auth.ScopePayments)
		return events.Viewer{PartnerID: p.ID}, err
	}
	who, err := auth.Require(ctx)
	return events.Viewer{UserID: who.UserID}, err
}

// subscribePayments streams, as their audit rows, the payment transitions
// the caller may see after the cursor after (nil: from now on), of one
// payment when paymentID is set, which must then be one of the caller's.
// Errors: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, INVALID_INPUT.
func subscribePayments(ctx context.Context, r *Resolver, after *string, paymentID pulid.ID) (<-chan *ent.PaymentEvent, error) {
	v, err := viewer(ctx)
	if err != nil {
		return nil, err
	}
	f := events.PaymentFilter(v, paymentID)
	if paymentID != "" {
		if err := events.CheckVisible(ctx, r.Client, f); err != nil {
			return nil, err
		}
	}
	return subscribe(ctx, r, after, f, r.Escrow.AuditRow)
}

func balanceFilter(who auth.Identity) events.Filter {
	return events.Filter{UserID: who.UserID, TypePrefix: "balance.changed"}
}

func balanceEvent(_ context.Context, e *ent.Event) (*model.BalanceEvent, bool, error) {
	currency, _ := e.Payload["currency"].(string)
	delta, _ := e.Payload["delta"].(string)
	out := &model.BalanceEvent{Cursor: events.Cursor(e.Seq), Type: e.Type, OccurredAt: e.CreatedAt,
		Currency: currency, Delta: model.Decimal(delta)}
	if cause, ok := e.Payload["cause"].(string); ok && cause != "" {
		id := pulid.ID(cause)
		out.CauseID = &id
	}
	return out, true, nil
}
