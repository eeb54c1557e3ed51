package dbtx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"danbao/ent"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"
)

// TestGateSlotNeverLeaks: with one writer slot, a transaction waiting for
// it gives up when its context ends (without taking the slot), and a
// function that panics or fails gives its slot back: the next transaction
// starts at once, not after the gate's wait runs out (both engines).
func TestGateSlotNeverLeaks(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, d).Client
		if d == testenv.Postgres {
			dbtx.SetWriters(c, 1)
		}
		// A leaked slot makes the next transaction wait for it until its
		// context ends (well before the gate's own 10 s wait): an error.
		quick := func(what string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error { return nil }); err != nil {
				t.Fatalf("%s: the slot was not given back: %v", what, err)
			}
		}
		held, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error {
				close(held)
				<-release
				return nil
			})
		}()
		<-held
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error { return errors.New("ran without the slot") })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting for a held slot: %v, want the context's deadline", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		quick("after a cancelled wait")
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			_ = dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error { panic("boom") })
		}()
		quick("after a panic")
		_ = dbtx.WithTx(context.Background(), c, func(tx *ent.Tx) error { return errors.New("refused") })
		quick("after an error")
	})
}
