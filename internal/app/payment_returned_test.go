package app_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/escrow"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestPaymentReturnedAsStored: what every escrow step returns is the
// payment as a fresh read finds it after the commit (the service builds it
// from its one update rather than reading it back), through authorization,
// shipment, an extension, a partial refund, a release with a fee, a
// cancellation and a dispute split by an operator; on both engines.
func TestPaymentReturnedAsStored(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		ctx := context.Background()
		svc := e.App.Escrow
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		b := e.buyer(t, "700.00")
		buyerC := escrow.Caller{UserID: pulid.ID(b.ID)}
		sellerC := escrow.Caller{UserID: pulid.ID(seller.ID)}
		same := func(step string, got *ent.Payment, err error) *ent.Payment {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			want, err := e.App.DB.Client.Payment.Get(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			samePayment(t, step, got, want)
			return got
		}
		create := func(amount, key string) (*ent.Payment, []byte) {
			t.Helper()
			p, options, _, err := svc.CreatePayment(ctx, pulid.ID(b.ID), escrow.CreatePaymentInput{PayeeID: pulid.ID(seller.ID),
				Amount: amount, Currency: "CNY", Description: "a teapot", IdempotencyKey: key})
			same("create", p, err)
			if options == nil {
				t.Fatal("create: no authorization options")
			}
			return p, options
		}
		authorize := func(p *ent.Payment, options []byte) *ent.Payment {
			t.Helper()
			cred, err := b.auth.Assert(options, softauthn.AssertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, _, err = svc.AuthorizePayment(ctx, buyerC, escrow.AuthorizePaymentInput{PaymentID: p.ID, Credential: cred, IdempotencyKey: "a-" + string(p.ID)})
			same("authorize", p, err)
			if p.AuthorizationTransactionID == "" || p.AuthorizationEvidence == nil {
				t.Fatalf("authorize: %+v", p)
			}
			return p
		}

		p, options := create("150.00", "returned-1")
		p = authorize(p, options)
		p, err := svc.MarkShipped(ctx, sellerC, escrow.MarkShippedInput{PaymentID: p.ID, Carrier: "SF", TrackingNumber: "SF1"})
		same("ship", p, err)
		p, err = svc.ExtendConfirmDeadline(ctx, buyerC, p.ID)
		same("extend", p, err)
		p, err = svc.RequestRefund(ctx, buyerC, p.ID, "10.00", "a cup broke")
		same("request refund", p, err)
		p, err = svc.RespondToRefund(ctx, sellerC, p.ID, true, "sorry")
		same("accept refund", p, err)
		p, err = svc.ConfirmReceipt(ctx, buyerC, p.ID)
		same("confirm", p, err)
		if p.Fee == 0 || p.ReleaseTransactionID == "" {
			t.Fatalf("confirm: fee %d, release %q", p.Fee, p.ReleaseTransactionID)
		}

		p, _ = create("20.00", "returned-2")
		p, err = svc.CancelPayment(ctx, buyerC, p.ID)
		same("cancel", p, err)

		p, options = create("30.00", "returned-3")
		p = authorize(p, options)
		p, err = svc.OpenDispute(ctx, buyerC, p.ID, "not as described")
		same("dispute", p, err)
		p, err = svc.ResolveDispute(ctx, escrow.Caller{UserID: pulid.ID(op.ID), Operator: true}, p.ID, "12.00", "split")
		same("resolve", p, err)

		// A replayed create issues a fresh, usable challenge in its
		// transaction, replacing the pending one.
		p, options = create("40.00", "returned-4")
		_, again := create("40.00", "returned-4")
		if n, err := e.App.DB.Client.PasskeySession.Query().Where(passkeysession.PaymentID(string(p.ID))).Count(ctx); err != nil || n != 1 {
			t.Fatalf("%d pending challenges after a replayed create (%v)", n, err)
		}
		if string(again) == string(options) {
			t.Fatal("a replayed create returned the same challenge")
		}
		authorize(p, again)
	})
}

// samePayment fails unless got and want hold the same values (times
// compared as instants).
func samePayment(t *testing.T, step string, got, want *ent.Payment) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		f := g.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		a, b := g.Field(i).Interface(), w.Field(i).Interface()
		switch x := a.(type) {
		case time.Time:
			if !x.Equal(b.(time.Time)) {
				t.Errorf("%s: %s is %v, stored %v", step, f.Name, x, b)
			}
			continue
		case *time.Time:
			y := b.(*time.Time)
			if (x == nil) != (y == nil) || x != nil && !x.Equal(*y) {
				t.Errorf("%s: %s is %v, stored %v", step, f.Name, x, y)
			}
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: %s is %#v, stored %#v", step, f.Name, a, b)
		}
	}
}
