package passkey_test

import (
	"context"
	"testing"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/passkey"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestRevokeDuringPaymentAuthorization: a revocation that commits after
// FinishPayment read the passkey, but before it wrote the counter back,
// wins: the payment is refused with PASSKEY_REVOKED. (On PostgreSQL's READ
// COMMITTED the revoke really interleaves; SQLite serialises the two.)
func TestRevokeDuringPaymentAuthorization(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		if d != testenv.Postgres {
			t.Skip("the interleaving needs two concurrent writers; SQLite serialises them")
		}
		w := newWorld(t, d)
		ctx := context.Background()
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		revoked := false
		var ev any
		err := dbtx.WithTx(ctx, w.e.App.DB.Client, func(tx *ent.Tx) error {
			// Commit a revocation from another connection just before the
			// payment's first write to the passkey.
			tx.Passkey.Use(func(next ent.Mutator) ent.Mutator {
				return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
					if !revoked {
						revoked = true
						if _, err := w.svc.Revoke(context.Background(), pulid.ID(w.alice.ID), w.alicePK); err != nil {
							return nil, err
						}
					}
					return next.Mutate(ctx, m)
				})
			})
			e, err := w.svc.FinishPayment(ctx, tx, in, cred)
			if e != nil {
				ev = e
			}
			return err
		})
		if !revoked {
			t.Fatal("the revocation hook did not run")
		}
		if !apperr.Is(err, apperr.PasskeyRevoked) || ev != nil {
			t.Fatalf("payment authorized by a passkey revoked meanwhile: err=%v evidence=%v", err, ev != nil)
		}
	})
}

// TestRevokeDuringPaymentFinishAlone: VerifyPayment reads the passkeys
// and verifies the assertion outside any transaction, before
// SpendPayment's writes. A revocation or a clone suspicion committed
// between the verification and the writes wins: the finish is refused with PASSKEY_REVOKED or
// PASSKEY_CLONE_SUSPECTED, the counter is not written, and the challenge
// is spent.
func TestRevokeDuringPaymentFinishAlone(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		for _, tc := range []struct {
			what string
			code apperr.Code
		}{{"revoked", apperr.PasskeyRevoked}, {"suspected", apperr.PasskeyCloneSuspected}} {
			w := newWorld(t, d)
			ctx := context.Background()
			in := w.payment()
			cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
			ran := false
			restore := passkey.SetBeforeWrite(func() {
				ran = true
				var err error
				if tc.code == apperr.PasskeyRevoked {
					_, err = w.svc.Revoke(ctx, pulid.ID(w.alice.ID), w.alicePK)
				} else {
					err = w.e.App.DB.Client.Passkey.UpdateOneID(w.alicePK).SetCloneSuspected(true).Exec(ctx)
				}
				if err != nil {
					t.Error(err)
				}
			})
			_, code := w.finish(in, cred)
			restore()
			if !ran || code != tc.code {
				t.Fatalf("%s between the verification and the writes: %q (hook ran %v), want %s", tc.what, code, ran, tc.code)
			}
			if p := w.pk(t); p.SignCount != 0 || p.LastUsedAt != nil {
				t.Fatalf("%s: the counter was written: %d", tc.what, p.SignCount)
			}
			if _, code := w.finish(in, cred); code != apperr.PasskeyInvalid {
				t.Fatalf("%s: the assertion again: %q, want PASSKEY_INVALID (spent)", tc.what, code)
			}
		}
	})
}
