//go:build ignore

// entc.go generates the ent client and the GraphQL for Relay connections
// (graph/ent.graphql). Run through `make generate` (see generate.go).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"strings"

	"danbao/ent/schema/gqldoc"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./graph/ent.graphql"),
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithWhereInputs(false),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(describe),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "danbao/ent",
		Features: []gen.Feature{
			gen.FeatureVersionedMigration,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureExecQuery,
			gen.FeatureIntercept,
			gen.FeatureModifier,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// builtins describes the GraphQL that entgql adds without an ent schema
// behind it.
var builtins = map[string]string{
	"Query":  "The read entry points of the API. Every field needs a signed-in caller unless it says otherwise.",
	"Time":   "A point in time: an RFC 3339 string in UTC with up to microsecond precision, e.g. \"2026-12-02T15:04:05.123456Z\".",
	"Cursor": "An opaque position in a connection, from an edge's cursor or pageInfo; pass it back as after or before. Valid only for the connection (and filter) that gave it.",
}

// describe copies the gqldoc annotations of the ent schema into the
// generated GraphQL: type descriptions and enum value descriptions.
func describe(g *gen.Graph, s *ast.Schema) error {
	// entgql declares OrderDirection even when no connection can be
	// ordered by the client (history is always newest first).
	if !referenced(s, "OrderDirection") {
		delete(s.Types, "OrderDirection")
	}
	for name, text := range builtins {
		if def := s.Types[name]; def != nil {
			def.Description = text
		}
	}
	for _, t := range g.Nodes {
		gqlType := t.Name
		var ant entgql.Annotation
		if err := decode(t.Annotations[ant.Name()], &ant); err != nil {
			return err
		}
		if ant.Type != "" {
			gqlType = ant.Type
		}
		var doc gqldoc.Annotation
		if err := decode(t.Annotations[gqldoc.AnnotationName], &doc); err != nil {
			return err
		}
		if def := s.Types[gqlType]; def != nil && doc.Description != "" {
			def.Description = doc.Description
		}
		for _, f := range t.Fields {
			var fdoc gqldoc.Annotation
			if err := decode(f.Annotations[gqldoc.AnnotationName], &fdoc); err != nil || fdoc.Values == nil {
				if err != nil {
					return err
				}
				continue
			}
			def := enumOf(s.Types[gqlType], f.Name, s)
			if def == nil {
				return fmt.Errorf("gqldoc: %s.%s: no GraphQL enum to describe", t.Name, f.Name)
			}
			if fdoc.Description != "" {
				def.Description = fdoc.Description
			}
			for _, v := range def.EnumValues {
				text, ok := fdoc.Values[v.Name]
				if !ok {
					return fmt.Errorf("gqldoc: %s.%s: no description for enum value %s", t.Name, f.Name, v.Name)
				}
				v.Description = text
			}
		}
	}
	return nil
}

// enumOf returns the enum type of the field of obj that ent field name
// maps to (names compared without case and underscores).
func enumOf(obj *ast.Definition, name string, s *ast.Schema) *ast.Definition {
	if obj == nil {
		return nil
	}
	norm := func(n string) string { return strings.ToLower(strings.ReplaceAll(n, "_", "")) }
	for _, fd := range obj.Fields {
		if norm(fd.Name) == norm(name) {
			if def := s.Types[fd.Type.Name()]; def != nil && def.Kind == ast.Enum {
				return def
			}
		}
	}
	return nil
}

// referenced reports whether any field, argument or input field of s has
// the named type.
func referenced(s *ast.Schema, name string) bool {
	for _, def := range s.Types {
		for _, f := range def.Fields {
			if f.Type.Name() == name {
				return true
			}
			for _, a := range f.Arguments {
				if a.Type.Name() == name {
					return true
				}
			}
		}
	}
	return false
}

// decode fills v from an annotation as entc stores it (decoded JSON).
func decode(raw any, v any) error {
	if raw == nil {
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
