package schema

import (
	"context"
	"fmt"

	"entgo.io/ent"
)

// appendOnly refuses updates and deletes: ledger history is corrected by
// new transactions, never by rewriting old ones.
func appendOnly(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		if !m.Op().Is(ent.OpCreate) {
			return nil, fmt.Errorf("%s is append-only: %s refused", m.Type(), m.Op())
		}
		return next.Mutate(ctx, m)
	})
}
