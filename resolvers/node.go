package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/internal/apperr"
)

// maxNodes bounds nodes(ids:).
const maxNodes = 100

// tables maps ID prefixes to ent tables, so node(id:) finds an object's
// type without a lookup.
var tables = map[string]string{
	"usr": user.Table,
	"psk": passkey.Table,
}

// node loads one object by global ID if the caller may see it; otherwise it
// answers NOT_FOUND, so IDs of other people's objects reveal nothing.
func (r *Resolver) node(ctx context.Context, id pulid.ID) (ent.Noder, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	table, ok := tables[id.Prefix()]
	if !ok || !id.Valid() {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	ok, err = r.visible(ctx, who, table, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	n, err := r.Client.Noder(ctx, id, ent.WithFixedNodeType(table))
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	return n, err
}

// visible reports whether who may see the object id of table: operators see
// everything, users see themselves and what they own. Ownership is queried
// here rather than read from the loaded node, because entgql loads only the
// columns a query selects, so a node's owner field may be empty.
func (r *Resolver) visible(ctx context.Context, who auth.Identity, table string, id pulid.ID) (bool, error) {
	if who.Operator() {
		return true, nil
	}
	switch table {
	case user.Table:
		return id == who.UserID, nil
	case passkey.Table:
		return r.Client.Passkey.Query().Where(passkey.ID(id), passkey.UserID(who.UserID)).Exist(ctx)
	}
	return false, nil
}
