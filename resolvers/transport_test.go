package resolvers

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// encodeResponse writes what json.Marshal writes for every response shape.
func TestEncodeResponseMatchesMarshal(t *testing.T) {
	yes := true
	for _, resp := range []*graphql.Response{
		{Data: json.RawMessage(`{"me":{"id":"u1","name":"a \"b\""}}`)},
		{},
		{Data: json.RawMessage(`null`), Errors: gqlerror.List{{Message: "boom", Path: ast.Path{ast.PathName("me")},
			Extensions: map[string]any{"code": "INTERNAL"}}}},
		{Errors: gqlerror.List{{Message: "bad"}}},
		{Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"x": 1, "complexity": map[string]any{"n": 2}}},
		{Data: json.RawMessage(`{"a":1}`), HasNext: &yes, Label: "l", Path: ast.Path{ast.PathIndex(1)}},
		{Data: json.RawMessage(`{"memo":"<b>a & b</b>"}`)},
		{Data: json.RawMessage("{\"l\":\"\u2028 \u2029 \u20ac\"}")}, // the characters themselves
	} {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("encodeResponse = %s, json.Marshal = %s", got, want)
		}
	}
}
