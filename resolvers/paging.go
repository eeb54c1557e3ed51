package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// withoutPageCount returns the context a connection field's resolver gives
// ent's Paginate so that a page does not count every matching row. ent
// counts them whenever pageInfo or totalCount is selected (a full scan
// of a long history for each page); but with edges selected it computes
// hasNextPage and hasPreviousPage from one extra row without the count.
// So when the selection has edges and no totalCount, pageInfo is hidden
// from Paginate (it still fills PageInfo, and gqlgen still answers it).
// Selections through fragments are left as they are: correct, and slower.
func withoutPageCount(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return ctx
	}
	var keep ast.SelectionSet
	edges := false
	for _, s := range fc.Field.Selections {
		f, ok := s.(*ast.Field)
		if !ok {
			return ctx
		}
		switch f.Name {
		case "totalCount":
			return ctx
		case "edges":
			edges = true
		case "pageInfo":
			continue
		}
		keep = append(keep, s)
	}
	if !edges {
		return ctx
	}
	c := *fc
	c.Field.Selections = keep
	return graphql.WithFieldContext(ctx, &c)
}
