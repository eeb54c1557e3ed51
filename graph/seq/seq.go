// Package seq marshals a GraphQL list one element after the other.
//
// gqlgen marshals every list of objects with one goroutine per element
// (graphql.MarshalSliceConcurrently), whatever the elements' fields cost.
// For a history page that is 50 goroutines for fields that are plain
// values (the entries' type, direction and amounts come from methods of
// ent.Posting): the spawning and scheduling cost more than the fields.
// `make generate` has the lists named in internal/tools/seqlists call
// MarshalSlice instead.
package seq

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalSlice is graphql.MarshalSliceConcurrently's sequential twin, with
// its signature (workerLimit is ignored): each element is marshalled with
// a field context carrying its index, and a panic in one is recovered
// into an error and a null element unless omitPanicHandler.
func MarshalSlice(ctx context.Context, length int, _ int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		ret[i] = marshal(childCtx, i, omitPanicHandler, marshalElement)
	}
	return ret
}

func marshal(ctx context.Context, i int, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	if !omitPanicHandler {
		defer func() {
			if r := recover(); r != nil {
				graphql.AddError(ctx, graphql.Recover(ctx, r))
				m = graphql.Null
			}
		}()
	}
	return marshalElement(ctx, i)
}
