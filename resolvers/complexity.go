package resolvers

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"

	"danbao/internal/page"

	"github.com/99designs/gqlgen/graphql"
)

// pagedComplexity is the executable schema with a cost model for Relay
// connections: a connection field costs one plus its selection's cost
// times its page size (first or last, else page.Default). Without it gqlgen counts a page of 100 entries like one entry, so
// a few aliases could ask for thousands of rows within the budget.
type pagedComplexity struct {
	graphql.ExecutableSchema
}

// Complexity implements graphql.ExecutableSchema.
func (c pagedComplexity) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if n, ok := c.ExecutableSchema.Complexity(ctx, typeName, field, child, args); ok {
		return n, ok
	}
	if typeName == "Query" && field == "nodes" {
		// Up to maxNodes objects, each resolving the whole selection:
		// counted once per ID, as a connection counts its page.
		n := 1
		if v := reflect.ValueOf(args["ids"]); v.Kind() == reflect.Slice {
			n = v.Len()
		}
		return times(n, child), true
	}
	if typeName == "Statement" && field == "entries" {
		// Up to wallet.MaxStatementEntries entries, unpaged: counted as
		// page.Max of them, so a request holds a few statements at most.
		return times(page.Max, child), true
	}
	def := c.Schema().Types[typeName]
	if def == nil {
		return 0, false
	}
	f := def.Fields.ForName(field)
	if f == nil || !strings.HasSuffix(f.Type.Name(), "Connection") {
		return 0, false
	}
	// Every connection pages by one rule (internal/page): without first
	// or last a page is page.Default entries.
	size := page.Default
	for _, name := range []string{"first", "last"} {
		if n, ok := intArg(args[name]); ok {
			size = n
		}
	}
	return times(size, child), true
}

// times is the cost of n objects (at least one) of child each (at least
// one), plus one for the field, capped at math.MaxInt32.
func times(n, child int) int {
	n, child = max(n, 1), max(child, 1)
	if n > (math.MaxInt32-1)/child {
		return math.MaxInt32
	}
	return 1 + n*child
}

// intArg reads an Int argument as gqlgen hands it over (a literal or a
// coerced variable).
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(min(max(n, math.MinInt32), math.MaxInt32)), true
	case float64:
		return int(min(max(n, math.MinInt32), math.MaxInt32)), true
	case json.Number:
		i, err := n.Int64()
		return int(min(max(i, math.MinInt32), math.MaxInt32)), err == nil
	}
	return 0, false
}
