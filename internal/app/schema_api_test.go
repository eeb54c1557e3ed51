package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"danbao/internal/testenv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// schemaQuery asks for everything SDL can express.
const schemaQuery = `query {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types {
      kind name description
      fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
      inputFields { ...InputValue }
      interfaces { name }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { name }
    }
    directives { name description locations isRepeatable args { ...InputValue } }
  }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`

type introType struct {
	Kind, Name  string
	Description *string
	Fields      []struct {
		Name              string
		Description       *string
		Args              []introValue
		Type              introRef
		IsDeprecated      bool
		DeprecationReason *string
	}
	InputFields []introValue
	Interfaces  []struct{ Name string }
	EnumValues  []struct {
		Name              string
		Description       *string
		IsDeprecated      bool
		DeprecationReason *string
	}
	PossibleTypes []struct{ Name string }
}

type introValue struct {
	Name         string
	Description  *string
	Type         introRef
	DefaultValue *string
}

type introRef struct {
	Kind   string
	Name   *string
	OfType *introRef
}

// liveSDL introspects the running server and prints what it answers as
// SDL, with the formatter that writes schema.graphql: the specified scalars
// and directives (@include, @skip, @deprecated, @specifiedBy, @oneOf) are
// left out as there, anything else is printed.
func liveSDL(t *testing.T, e *testenv.Env) string {
	t.Helper()
	var out struct {
		Schema struct {
			QueryType, MutationType, SubscriptionType *struct{ Name string }
			Types                                     []introType
			Directives                                []struct {
				Name         string
				Description  *string
				Locations    []string
				IsRepeatable bool
				Args         []introValue
			}
		} `json:"__schema"`
	}
	e.Do(t, "", schemaQuery, nil).Decode(t, &out)
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	var typeOf func(r introRef) *ast.Type
	typeOf = func(r introRef) *ast.Type {
		switch r.Kind {
		case "NON_NULL":
			inner := typeOf(*r.OfType)
			inner.NonNull = true
			return inner
		case "LIST":
			return &ast.Type{Elem: typeOf(*r.OfType)}
		}
		return &ast.Type{NamedType: str(r.Name)}
	}
	defaultValue := func(v *string) *ast.Value {
		if v == nil {
			return nil
		}
		doc, err := parser.ParseQuery(&ast.Source{Input: "{ f(a: " + *v + ") }"})
		if err != nil {
			t.Fatalf("default value %q: %v", *v, err)
		}
		return doc.Operations[0].SelectionSet[0].(*ast.Field).Arguments[0].Value
	}
	args := func(in []introValue) ast.ArgumentDefinitionList {
		var l ast.ArgumentDefinitionList
		for _, a := range in {
			l = append(l, &ast.ArgumentDefinition{Name: a.Name, Description: str(a.Description), Type: typeOf(a.Type), DefaultValue: defaultValue(a.DefaultValue)})
		}
		return l
	}
	deprecated := func(is bool, reason *string) ast.DirectiveList {
		if !is {
			return nil
		}
		d := &ast.Directive{Name: "deprecated"}
		if reason != nil {
			d.Arguments = ast.ArgumentList{{Name: "reason", Value: &ast.Value{Kind: ast.StringValue, Raw: *reason}}}
		}
		return ast.DirectiveList{d}
	}
	builtin := &ast.Position{Src: &ast.Source{BuiltIn: true}}
	s := &ast.Schema{Types: map[string]*ast.Definition{}, Directives: map[string]*ast.DirectiveDefinition{}}
	for _, it := range out.Schema.Types {
		def := &ast.Definition{Kind: ast.DefinitionKind(it.Kind), Name: it.Name, Description: str(it.Description)}
		if strings.HasPrefix(it.Name, "__") || map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}[it.Name] {
			def.BuiltIn = true
		}
		for _, f := range it.Fields {
			def.Fields = append(def.Fields, &ast.FieldDefinition{Name: f.Name, Description: str(f.Description), Arguments: args(f.Args),
				Type: typeOf(f.Type), Directives: deprecated(f.IsDeprecated, f.DeprecationReason)})
		}
		for _, f := range it.InputFields {
			def.Fields = append(def.Fields, &ast.FieldDefinition{Name: f.Name, Description: str(f.Description), Type: typeOf(f.Type), DefaultValue: defaultValue(f.DefaultValue)})
		}
		for _, i := range it.Interfaces {
			def.Interfaces = append(def.Interfaces, i.Name)
		}
		if it.Kind == "UNION" {
			for _, p := range it.PossibleTypes {
				def.Types = append(def.Types, p.Name)
			}
		}
		for _, v := range it.EnumValues {
			def.EnumValues = append(def.EnumValues, &ast.EnumValueDefinition{Name: v.Name, Description: str(v.Description), Directives: deprecated(v.IsDeprecated, v.DeprecationReason)})
		}
		s.Types[it.Name] = def
	}
	for _, d := range out.Schema.Directives {
		def := &ast.DirectiveDefinition{Name: d.Name, Description: str(d.Description), Arguments: args(d.Args), IsRepeatable: d.IsRepeatable}
		for _, l := range d.Locations {
			def.Locations = append(def.Locations, ast.DirectiveLocation(l))
		}
		if map[string]bool{"include": true, "skip": true, "deprecated": true, "specifiedBy": true, "oneOf": true}[d.Name] {
			def.Position = builtin
		}
		s.Directives[d.Name] = def
	}
	root := func(r *struct{ Name string }) *ast.Definition {
		if r == nil {
			return nil
		}
		return s.Types[r.Name]
	}
	s.Query, s.Mutation, s.Subscription = root(out.Schema.QueryType), root(out.Schema.MutationType), root(out.Schema.SubscriptionType)
	var buf bytes.Buffer
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).FormatSchema(s)
	return buf.String()
}

// TestLiveSchemaIsCommittedSchema introspects the running server, prints
// the answer as SDL and compares it with schema.graphql: clients see the
// committed schema, with no code generation directives and no @defer.
func TestLiveSchemaIsCommittedSchema(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	_, file, _, _ := runtime.Caller(0)
	committed, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "schema.graphql"))
	if err != nil {
		t.Fatal(err)
	}
	// The committed file starts with a comment header the formatter does
	// not write.
	want := string(committed)
	for strings.HasPrefix(want, "#") || strings.HasPrefix(want, "\n") {
		_, want, _ = strings.Cut(want, "\n")
	}
	got := liveSDL(t, e)
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("live schema differs from schema.graphql at line %d:\nlive:      %q\ncommitted: %q", i+1, g, w)
			}
		}
	}
}

// TestDeferNotOffered: @defer is not in the schema, so an operation using
// it is refused before execution instead of answering null for a non-null
// field and never continuing.
func TestDeferNotOffered(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	r := e.Do(t, u.AccessToken, `{ me { id ... @defer { displayName } } }`, nil)
	if got := r.Codes(); len(got) != 1 || got[0] != "GRAPHQL_VALIDATION_FAILED" || string(r.Data) != "" && string(r.Data) != "null" {
		t.Fatalf("codes %v data %s, want the operation refused by validation", got, r.Data)
	}
}
