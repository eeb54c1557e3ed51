package passkey_test

import (
	"context"
	"testing"
	"time"

	"danbao/ent/passkeysession"
	"danbao/internal/apperr"
	"danbao/internal/passkey"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// TestSweepExpiredSessions: issuing a challenge deletes nothing; Sweep
// (housekeeping) deletes the sessions expired for more than a timeout and
// keeps the others, so a late finish of a recently expired one still
// learns CHALLENGE_EXPIRED.
func TestSweepExpiredSessions(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		ctx := context.Background()
		count := func() int {
			t.Helper()
			n, err := w.e.App.DB.Client.PasskeySession.Query().Where(passkeysession.PurposeEQ(passkeysession.PurposePAYMENT)).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		w.begin(t, w.payment()) // expired long ago by the end
		w.clock.Advance(2*passkey.DefaultTimeout + time.Second)
		late := w.payment()
		lateOptions := w.begin(t, late) // expired a moment ago by the end
		w.clock.Advance(passkey.DefaultTimeout + time.Second)
		w.begin(t, w.payment()) // pending
		if n := count(); n != 3 {
			t.Fatalf("%d payment sessions, want 3: issuing a challenge swept", n)
		}
		if n, err := w.svc.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("Sweep deleted %d (%v), want 1", n, err)
		}
		if n := count(); n != 2 {
			t.Fatalf("%d payment sessions after the sweep, want 2", n)
		}
		if _, code := w.finish(late, sign(t, w.aliceDevice, lateOptions, softauthn.AssertOptions{})); code != apperr.ChallengeExpired {
			t.Fatalf("finishing a recently expired challenge: %q", code)
		}
	})
}
