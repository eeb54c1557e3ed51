package resolvers

import (
	"context"
	"encoding/json"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"

	"entgo.io/contrib/entgql"
)

// passkeys lists u's passkeys for u or an operator; anyone else reaching a
// User (say as a payment's payee) gets FORBIDDEN, not the list.
func (r *Resolver) passkeys(ctx context.Context, u *ent.User, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int, includeRevoked *bool) (*ent.PasskeyConnection, error) {
	if err := ownerOrOperator(ctx, u.ID); err != nil {
		return nil, err
	}
	return r.Passkeys.List(ctx, u.ID, deref(includeRevoked), after, first, before, last)
}

// jsonOrNull carries raw JSON in the JSON scalar; nil becomes null.
func jsonOrNull(raw json.RawMessage) model.JSON {
	if len(raw) == 0 {
		return nil
	}
	return model.JSON(raw)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
