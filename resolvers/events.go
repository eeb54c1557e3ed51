package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/events"
)

// subscribe authorizes a subscription for a signed-in caller, takes one of
// its connection's subscription slots and streams the events matching f
// after the cursor after (nil: from now on), converted by conv.
// Errors: UNAUTHENTICATED, RATE_LIMITED, INVALID_INPUT (a bad cursor).
func subscribe[T any](ctx context.Context, r *Resolver, after *string, f func(auth.Identity) events.Filter, conv func(*ent.Event) T) (<-chan T, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	pos, err := startAt(ctx, r, after)
	if err != nil {
		return nil, err
	}
	if err := r.Sockets.acquireSubscription(ctx); err != nil {
		return nil, err
	}
	return events.Stream(ctx, r.Events, pos, f(who), nil, conv), nil
}

// startAt is the position after the cursor, or the head when there is none.
func startAt(ctx context.Context, r *Resolver, after *string) (int64, error) {
	if after != nil {
		return events.ParseCursor(*after)
	}
	return events.Head(ctx, r.Client)
}

func balanceFilter(who auth.Identity) events.Filter {
	return events.Filter{UserID: who.UserID, TypePrefix: "balance.changed"}
}

func balanceEvent(e *ent.Event) *model.BalanceEvent {
	currency, _ := e.Payload["currency"].(string)
	delta, _ := e.Payload["delta"].(string)
	out := &model.BalanceEvent{Cursor: events.Cursor(e.Seq), Type: e.Type, OccurredAt: e.CreatedAt,
		Currency: currency, Delta: model.Decimal(delta)}
	if cause, ok := e.Payload["cause"].(string); ok && cause != "" {
		id := pulid.ID(cause)
		out.CauseID = &id
	}
	return out
}
