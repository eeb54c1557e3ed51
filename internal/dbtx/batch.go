package dbtx

import (
	"context"

	"danbao/ent"
)

// Batches runs fn, each time in its own transaction (WithTx, so retried on
// serialization failures), until a run reports that it changed nothing, and
// returns the total fn reported. It suits backfills and re-encryptions that
// work through a table in bounded batches: fn selects up to a batch of rows
// still to do and returns how many it changed. fn must make progress or
// return 0, or Batches never ends.
func Batches(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) (int, error)) (int, error) {
	total := 0
	for {
		done := 0
		err := WithTx(ctx, client, func(tx *ent.Tx) error {
			var err error
			done, err = fn(tx)
			return err
		})
		if err != nil {
			return total, err
		}
		total += done
		if done == 0 {
			return total, nil
		}
	}
}
