package limits_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/limits"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestRecordChecked: RecordChecked hands its check the payer's freeze and
// reason and the counterparty's collection restriction, read with the
// limits (zero without account_controls rows, and never the other end's
// flags); the check's refusal comes before the limits' and counts
// nothing; without one the outflow is counted as Record counts it.
func TestRecordChecked(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		L := e.App.Limits
		ctx := context.Background()
		now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
		payer, payee, unverified := e.RegisterVerified(t), e.RegisterVerified(t), e.Register(t)
		refused := errors.New("refused by the check")
		record := func(from, to *testenv.User, amount int64) (limits.Controls, error) {
			var got limits.Controls
			err := inTx(e, func(tx *ent.Tx) error {
				return L.RecordChecked(ctx, tx, pulid.ID(from.ID), pulid.ID(to.ID), amount, money.CNY, now, func(c limits.Controls) error {
					got = c
					if c.Frozen || c.Restricted {
						return refused
					}
					return nil
				})
			})
			return got, err
		}
		control := func(u *testenv.User, frozen bool, reason string, restricted bool) {
			t.Helper()
			err := e.App.DB.Client.AccountControl.Create().SetUserID(pulid.ID(u.ID)).
				SetFrozen(frozen).SetFrozenReason(reason).SetCollectionRestricted(restricted).Exec(ctx)
			if err != nil {
				t.Fatal(err)
			}
		}

		if c, err := record(payer, payee, 10_00); err != nil || c != (limits.Controls{}) {
			t.Fatalf("no controls: %+v, %v", c, err)
		}
		if got := usage(t, e, payer.ID, "LIFETIME"); got != 10_00 {
			t.Fatalf("lifetime usage %d, want 1000", got)
		}
		// The payer's restriction and the payee's freeze are not this
		// outflow's business.
		control(payer, false, "", true)
		control(payee, true, "the payee's", false)
		if c, err := record(payer, payee, 10_00); err != nil || c != (limits.Controls{}) {
			t.Fatalf("the other ends' controls: %+v, %v", c, err)
		}
		// The payee paying the payer: both ends' controls apply.
		c, err := record(payee, payer, 10_00)
		if want := (limits.Controls{Frozen: true, FrozenReason: "the payee's", Restricted: true}); !errors.Is(err, refused) || c != want {
			t.Fatalf("frozen payer, restricted counterparty: %+v, %v; want %+v and the check's error", c, err, want)
		}
		// Ahead of the limits: an unverified, frozen payer gets the
		// check's refusal, and nothing is counted.
		control(unverified, true, "fake trades", false)
		if c, err := record(unverified, payee, 10_00); !errors.Is(err, refused) || !c.Frozen || c.FrozenReason != "fake trades" {
			t.Fatalf("unverified and frozen: %+v, %v", c, err)
		}
		for _, u := range []*testenv.User{payee, unverified} {
			if got := usage(t, e, u.ID, "LIFETIME"); got != 0 {
				t.Fatalf("a refused outflow was counted: %d", got)
			}
		}
		if got := usage(t, e, payer.ID, "LIFETIME"); got != 20_00 {
			t.Fatalf("lifetime usage %d, want 2000", got)
		}
		// A check that passes leaves Record's refusals as they were.
		wantErr(t, inTx(e, func(tx *ent.Tx) error {
			return L.RecordChecked(ctx, tx, pulid.ID(payer.ID), pulid.ID(payee.ID), 990_01, money.CNY, now, func(limits.Controls) error { return nil })
		}), apperr.LimitExceeded, map[string]any{"limit": "LIFETIME_BALANCE_PAYMENTS", "remaining": "980.00"})
	})
}
