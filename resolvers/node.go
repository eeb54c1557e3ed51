package resolvers

import (
	"context"

	"danbao/auth"
	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// maxNodes bounds nodes(ids:).
const maxNodes = 100

// loaders map the ID prefixes of the types that implement Node (declared
// once in package pulid) to the loader of their type, so node(id:) finds an
// object's type without a lookup. Whole rows are loaded (not just the
// selected fields): the ownership check needs the owner column whatever the
// client selected. An ID whose prefix is not here is NOT_FOUND.
var loaders = map[string]func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error){
	pulid.PrefixUser: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) { return c.User.Get(ctx, id) },
	pulid.PrefixBankCard: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.BankCard.Get(ctx, id)
	},
	pulid.PrefixTopUp: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) { return c.TopUp.Get(ctx, id) },
	pulid.PrefixWithdrawal: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.Withdrawal.Get(ctx, id)
	},
	pulid.PrefixPosting: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.Posting.Get(ctx, id)
	},
	pulid.PrefixVerification: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.Verification.Get(ctx, id)
	},
	pulid.PrefixPasskey: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.Passkey.Get(ctx, id)
	},
	pulid.PrefixPayment: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.Payment.Get(ctx, id)
	},
	pulid.PrefixPaymentEvent: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.PaymentEvent.Get(ctx, id)
	},
	// A held item is for operators only (visible answers false to others).
	pulid.PrefixRiskHold: func(ctx context.Context, c *ent.Client, id pulid.ID) (ent.Noder, error) {
		return c.RiskHold.Get(ctx, id)
	},
}

// node loads one object by global ID if the caller may see it; otherwise it
// answers NOT_FOUND, so IDs of other people's objects reveal nothing.
func (r *Resolver) node(ctx context.Context, id pulid.ID) (ent.Noder, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	load, ok := loaders[id.Prefix()]
	if !ok || !id.Valid() {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	n, err := load(ctx, r.Client, id)
	if ent.IsNotFound(err) {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	if err != nil {
		return nil, err
	}
	ok, err = visible(ctx, r.Client, who, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no object with this ID")
	}
	return n, nil
}

// visible reports whether who may see n: operators see everything, users
// see themselves and what they own; a payment and its audit trail are the
// buyer's and the seller's. c loads the owner of objects that do not carry
// it (a payment event's payment).
func visible(ctx context.Context, c *ent.Client, who auth.Identity, n ent.Noder) (bool, error) {
	if who.Operator() {
		return true, nil
	}
	switch v := n.(type) {
	case *ent.User:
		return v.ID == who.UserID, nil
	case *ent.BankCard:
		return v.UserID == who.UserID, nil
	case *ent.TopUp:
		return v.UserID == who.UserID, nil
	case *ent.Withdrawal:
		return v.UserID == who.UserID, nil
	case *ent.Verification:
		return v.UserID == who.UserID, nil
	case *ent.Passkey:
		return v.UserID == who.UserID, nil
	case *ent.Payment:
		return v.PayerID == who.UserID || v.PayeeID == who.UserID, nil
	case *ent.PaymentEvent:
		p, err := c.Payment.Get(ctx, v.PaymentID)
		if err != nil {
			return false, err
		}
		return visible(ctx, c, who, p)
	case *ent.Posting:
		a, err := v.QueryAccount().Only(ctx)
		if err != nil {
			return false, err
		}
		return a.OwnerID == who.UserID, nil
	}
	return false, nil
}

func pulidOf(s string) pulid.ID { return pulid.ID(s) }
