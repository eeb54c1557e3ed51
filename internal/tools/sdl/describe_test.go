package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaDescribesItself: the committed schema.graphql, as client
// developers and the playground's docs explorer see it, gives every type,
// field, argument, input field and enum value a description, and defines
// no type that no operation can reach.
func TestSchemaDescribesItself(t *testing.T) {
	src, err := os.ReadFile("../../../schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	missing := undescribed(schema)
	for _, m := range missing {
		t.Errorf("no description: %s", m)
	}
	if len(missing) > 0 {
		t.Logf("%d elements of schema.graphql have no description: add one (\"\"\"...\"\"\") in graph/*.graphqls, or for ent-generated parts an entgql annotation or field Comment in ent/schema, then run make generate", len(missing))
	}
	for _, name := range unused(schema) {
		t.Errorf("type %s is defined but no operation reaches it", name)
	}
}

// undescribed lists the schema elements (outside the GraphQL built-ins)
// that have no description, as Type, Type.field, Type.field(arg) or
// Enum.VALUE.
func undescribed(s *ast.Schema) []string {
	var out []string
	blank := func(d string) bool { return strings.TrimSpace(d) == "" }
	for name, def := range s.Types {
		if def.BuiltIn {
			continue
		}
		if blank(def.Description) {
			out = append(out, name)
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if blank(f.Description) {
				out = append(out, name+"."+f.Name)
			}
			for _, a := range f.Arguments {
				if blank(a.Description) {
					out = append(out, name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, v := range def.EnumValues {
			if blank(v.Description) {
				out = append(out, name+"."+v.Name)
			}
		}
	}
	for name, d := range s.Directives {
		if d.Position != nil && d.Position.Src != nil && d.Position.Src.BuiltIn {
			continue
		}
		if blank(d.Description) {
			out = append(out, "@"+name)
		}
		for _, a := range d.Arguments {
			if blank(a.Description) {
				out = append(out, "@"+name+"("+a.Name+")")
			}
		}
	}
	slices.Sort(out)
	return out
}

// unused lists the non-built-in types that cannot be reached from the
// root operation types through fields, arguments, input fields, union
// members, interfaces and their implementations.
func unused(s *ast.Schema) []string {
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		def := s.Types[name]
		if def == nil || seen[name] {
			return
		}
		seen[name] = true
		for _, f := range def.Fields {
			visit(f.Type.Name())
			for _, a := range f.Arguments {
				visit(a.Type.Name())
			}
		}
		for _, n := range def.Interfaces {
			visit(n)
		}
		for _, n := range def.Types {
			visit(n)
		}
		if def.Kind == ast.Interface {
			for _, impl := range s.PossibleTypes[name] {
				visit(impl.Name)
			}
		}
	}
	for _, root := range []*ast.Definition{s.Query, s.Mutation, s.Subscription} {
		if root != nil {
			visit(root.Name)
		}
	}
	for _, d := range s.Directives {
		for _, a := range d.Arguments {
			visit(a.Type.Name())
		}
	}
	var out []string
	for name, def := range s.Types {
		if !def.BuiltIn && !seen[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
