package resolvers

import (
	"context"
	"encoding/json"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/graph/model"
	"danbao/internal/apperr"

	"entgo.io/contrib/entgql"
)

// Page sizes of connections.
const (
	defaultPage = 50
	maxPage     = 100
)

// passkeys lists u's passkeys for u or an operator; anyone else reaching a
// User (say as a payment's payee) gets FORBIDDEN, not the list.
func (r *Resolver) passkeys(ctx context.Context, u *ent.User, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int, includeRevoked *bool) (*ent.PasskeyConnection, error) {
	if err := ownerOrOperator(ctx, u.ID); err != nil {
		return nil, err
	}
	first, last, err := pageSize(first, last)
	if err != nil {
		return nil, err
	}
	return r.Passkeys.Query(u.ID, deref(includeRevoked)).Paginate(ctx, after, first, before, last)
}

// pageSize bounds first and last to maxPage and defaults first to
// defaultPage when neither is given. Errors: INVALID_INPUT.
func pageSize(first, last *int) (*int, *int, error) {
	for _, n := range []*int{first, last} {
		if n != nil && (*n < 0 || *n > maxPage) {
			return nil, nil, apperr.New(apperr.InvalidInput, "first and last must be between 0 and %d", maxPage)
		}
	}
	if first == nil && last == nil {
		n := defaultPage
		first = &n
	}
	return first, last, nil
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
