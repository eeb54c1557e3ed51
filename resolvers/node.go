package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/ent/user"
	"danbao/ent/verification"
	"danbao/internal/apperr"
)

// maxNodes bounds nodes(ids:).
const maxNodes = 100

// tables maps ID prefixes to ent tables, so node(id:) finds an object's
// type without a lookup.
var tables = map[string]string{
	"usr": user.Table,
	"kyv": verification.Table,
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
	n, err := r.Client.Noder(ctx, id, ent.WithFixedNodeType(table))
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	if err != nil {
		return nil, err
	}
	ok, err = r.visible(ctx, who, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	return n, nil
}

// visible reports whether who may see n: operators see everything, users
// see themselves and what they own. Field collection loads only the
// columns a query selects, so ownership is checked with a query rather
// than read from n.
func (r *Resolver) visible(ctx context.Context, who auth.Identity, n ent.Noder) (bool, error) {
	if who.Operator() {
		return true, nil
	}
	switch v := n.(type) {
	case *ent.User:
		return v.ID == who.UserID, nil
	case *ent.Verification:
		return r.Client.Verification.Query().
			Where(verification.ID(v.ID), verification.UserID(who.UserID)).Exist(ctx)
	}
	return false, nil
}
