package seq

import (
	"context"
	"errors"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestMarshalSlice: elements are marshalled in order, each with its index
// in its field context; a panicking one becomes null with an error, and
// the others are unaffected.
func TestMarshalSlice(t *testing.T) {
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
		func(context.Context, any) error { return errors.New("internal system error") })
	var order []int
	ret := MarshalSlice(ctx, 3, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		if idx := graphql.GetFieldContext(ctx).Index; idx == nil || *idx != i {
			t.Errorf("element %d has field context index %v", i, idx)
		}
		order = append(order, i)
		if i == 1 {
			panic("boom")
		}
		return graphql.MarshalInt(i)
	})
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("marshalled in order %v", order)
	}
	if ret[1] != graphql.Null || ret[0] == graphql.Null || ret[2] == graphql.Null {
		t.Fatalf("results %v: want only the panicking element null", ret)
	}
	if errs := graphql.GetErrors(ctx); len(errs) != 1 {
		t.Fatalf("%d errors recorded, want 1 for the panic", len(errs))
	}
}
