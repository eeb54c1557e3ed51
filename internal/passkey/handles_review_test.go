package passkey_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/passkeyuser"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"
)

// TestReviewHandleCacheGroupAbort (SQLite, group commit): a payment
// ceremony that reads a user's WebAuthn handle written by a first
// registration grouped just before it (uncommitted) must not cache it
// when the group is then rolled back: the registration is retried with a
// new handle, and a cached old one would be handed to go-webauthn for
// this user until the process restarts (their passkeys, registered with
// the new handle, would no longer verify).
func TestReviewHandleCacheGroupAbort(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	c, pk := e.App.DB.Client, e.App.Passkeys
	u := pulid.ID(e.Register(t).ID)

	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	var breaks atomic.Int32
	units := []func(tx *ent.Tx) error{
		func(tx *ent.Tx) error { _, err := pk.CreateHandle(ctx, tx, u); return err }, // BeginRegistration's
		func(tx *ent.Tx) error { _, err := pk.BoundHandle(ctx, tx, u); return err },  // BeginPayment's
		func(tx *ent.Tx) error { // a transaction whose statement breaks the group, once
			if breaks.Add(1) == 1 {
				_, _ = tx.ExecContext(ctx, "SELECT zeroblob(2000000000)")
			}
			return nil
		},
	}
	var wg sync.WaitGroup
	for _, fn := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = dbtx.WithTx(ctx, c, fn)
		}()
		time.Sleep(20 * time.Millisecond) // queued in this order, behind first
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if breaks.Load() < 1 {
		t.Fatal("the group was not broken")
	}
	stored, err := c.PasskeyUser.Query().Where(passkeyuser.UserID(u)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bound []byte
	if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) (err error) {
		bound, err = pk.BoundHandle(ctx, tx, u)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bound, stored.Handle) {
		t.Fatalf("the ceremony's user handle %x is not the stored one %x: a rolled-back handle was cached", bound, stored.Handle)
	}
}
