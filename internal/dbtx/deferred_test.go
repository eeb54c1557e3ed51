package dbtx_test

import (
	"context"
	"errors"
	"testing"

	"danbao/ent"
	"danbao/internal/dbtx"
	"danbao/internal/testenv"
)

// recorder is a Flusher that writes a counter row named after it (so its
// effect commits with the transaction) and notes the order of flushes.
type recorder struct {
	name  string
	order *[]string
}

func (r *recorder) Flush(ctx context.Context, tx *ent.Tx) error {
	*r.order = append(*r.order, r.name)
	return tx.Counter.Create().SetID(r.name).SetValue(1).Exec(ctx)
}

// TestDeferredFlushesBeforeCommitInKeyOrder: flushers run once, in key
// order whatever order they were registered in, and their writes commit
// with the transaction; a rolled-back transaction never flushes; a
// transaction committed without WithTx is flushed by its commit hook.
func TestDeferredFlushesBeforeCommitInKeyOrder(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		database := open(t, d)
		c := database.Client
		ctx := context.Background()
		var order []string
		mk := func(name string) func() *recorder {
			return func() *recorder { return &recorder{name: name, order: &order} }
		}
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			second := dbtx.Deferred(tx, "2 second", mk("second"))
			first := dbtx.Deferred(tx, "1 first", mk("first"))
			if again := dbtx.Deferred(tx, "2 second", mk("other")); again != second || first == nil {
				t.Error("a key registered twice gave another flusher")
			}
			return nil
		})
		if err != nil || len(order) != 2 || order[0] != "first" || order[1] != "second" {
			t.Fatalf("flush order %v, err %v", order, err)
		}
		if !exists(t, c, "first") || !exists(t, c, "second") {
			t.Fatal("flushed rows did not commit")
		}

		order = nil
		boom := errors.New("boom")
		err = dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			dbtx.Deferred(tx, "1 rolled", mk("rolled"))
			return boom
		})
		if !errors.Is(err, boom) || len(order) != 0 || exists(t, c, "rolled") {
			t.Fatalf("rolled-back transaction flushed: %v %v", order, err)
		}

		tx, err := c.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dbtx.Deferred(tx, "1 hook", mk("hook"))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if len(order) != 1 || !exists(t, c, "hook") {
			t.Fatalf("direct commit did not flush: %v", order)
		}
	})
}
