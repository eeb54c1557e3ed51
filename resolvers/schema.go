package resolvers

import (
	"maps"

	"danbao/graph"

	"github.com/vektah/gqlparser/v2/ast"
)

// ServerOnlyDirectives are the directives of the schema files that mean
// nothing to clients: gqlgen's code generation directives, and @defer,
// which gqlparser declares but danbao does not offer (its incremental
// delivery was never end to end: a deferred fragment answered null for a
// non-null field and never followed). Neither introspection nor
// schema.graphql shows them, and an operation using @defer fails
// validation as an unknown directive.
var ServerOnlyDirectives = map[string]bool{
	"goModel": true, "goField": true, "goTag": true, "goExtraField": true, "goEnum": true,
	"defer": true,
}

// PublicSchema returns the executable schema as clients see it: the
// generated one without ServerOnlyDirectives' definitions. Only the
// directive table is copied; the type definitions are shared.
func PublicSchema() *ast.Schema {
	s := *graph.NewExecutableSchema(graph.Config{}).Schema()
	s.Directives = maps.Clone(s.Directives)
	for name := range ServerOnlyDirectives {
		delete(s.Directives, name)
	}
	return &s
}
