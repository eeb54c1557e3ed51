package resolvers

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"danbao/internal/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// multiline are the input fields where a person may legitimately type a
// line break or a tab: free text read by people, never shown in a name or
// a list. Everywhere else those are refused too.
var multiline = map[string]bool{
	"ReviewVerificationInput.reason": true,
}

// forbiddenRune reports whether r may not appear in a string input: NUL and
// the other C0 controls (tab, line feed and carriage return only where
// allowed), DEL and the C1 controls, the bidirectional embedding, override
// and isolate characters (U+202A–U+202E, U+2066–U+2069), which make a name
// read differently from how it is stored, and invalid UTF-8.
func forbiddenRune(r rune, allowWhitespace bool) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return !allowWhitespace
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == utf8.RuneError:
		// Invalid UTF-8, or U+FFFD, which JSON decoding puts in its place
		// (no text a person types needs it).
		return true
	}
	return false
}

// InputRule is the one edge rule on string inputs: after validation and
// before any resolver runs, it walks every argument of every selected
// field, literal or variable, into input objects, lists and JSON values,
// and refuses the whole operation with INVALID_INPUT, naming the field
// (extensions.field, as ["input", "displayName"]), when a string holds a
// forbidden character (see forbiddenRune). So no service, database or log
// ever sees one: PostgreSQL refuses NUL in text, SQLite would store it.
type InputRule struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &InputRule{}

// ExtensionName implements graphql.HandlerExtension.
func (*InputRule) ExtensionName() string { return "InputRule" }

// Validate implements graphql.HandlerExtension; it keeps the schema to
// find the types of input object fields given in variables.
func (r *InputRule) Validate(es graphql.ExecutableSchema) error {
	r.schema = es.Schema()
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (r *InputRule) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	w := inputWalker{schema: r.schema, vars: rc.Variables, seen: map[string]bool{}}
	return w.selections(rc.Operation.SelectionSet, nil)
}

// inputWalker carries one operation's walk.
type inputWalker struct {
	schema *ast.Schema
	vars   map[string]any
	seen   map[string]bool // fragments already walked
	// path is where the walk is, from the argument down: a name, or a
	// list index when name is "". Turned into extensions.field only on
	// error, so a long list costs no allocation per element.
	path []pathElem
}

type pathElem struct {
	name  string
	index int
}

func (w *inputWalker) push(name string, index int) { w.path = append(w.path, pathElem{name, index}) }
func (w *inputWalker) pop()                        { w.path = w.path[:len(w.path)-1] }

// field returns the current path as extensions.field: ["input", "displayName"].
func (w *inputWalker) field() []string {
	out := make([]string, len(w.path))
	for i, e := range w.path {
		out[i] = e.name
		if e.name == "" {
			out[i] = strconv.Itoa(e.index)
		}
	}
	return out
}

func (w *inputWalker) selections(set ast.SelectionSet, path ast.Path) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			p := append(append(ast.Path{}, path...), ast.PathName(s.Alias))
			for _, a := range s.Arguments {
				var t *ast.Type
				if s.Definition != nil {
					if def := s.Definition.Arguments.ForName(a.Name); def != nil {
						t = def.Type
					}
				}
				w.path = w.path[:0]
				w.push(a.Name, 0)
				if err := w.literal(a.Value, t, ""); err != nil {
					err.Path = p
					return err
				}
			}
			if err := w.selections(s.SelectionSet, p); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.selections(s.SelectionSet, path); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || w.seen[s.Name] {
				continue
			}
			w.seen[s.Name] = true
			if err := w.selections(s.Definition.SelectionSet, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// literal walks a value written in the operation, of type t; key is
// "Type.field" of the input field holding it (the multiline table's key).
func (w *inputWalker) literal(v *ast.Value, t *ast.Type, key string) *gqlerror.Error {
	if v == nil {
		return nil
	}
	if t == nil {
		t = v.ExpectedType
	}
	switch v.Kind {
	case ast.Variable:
		return w.value(w.vars[v.Raw], t, key)
	case ast.StringValue, ast.BlockValue:
		return w.check(v.Raw, t, key)
	case ast.ListValue:
		for i, c := range v.Children {
			w.push("", i)
			if err := w.literal(c.Value, elem(t), key); err != nil {
				return err
			}
			w.pop()
		}
	case ast.ObjectValue:
		def := w.definition(t)
		for _, c := range v.Children {
			w.push(c.Name, 0)
			if err := w.literal(c.Value, fieldType(def, c.Name), ownerKey(def, c.Name)); err != nil {
				return err
			}
			w.pop()
		}
	}
	return nil
}

// value walks a value given in the variables (decoded JSON) of type t.
func (w *inputWalker) value(v any, t *ast.Type, key string) *gqlerror.Error {
	switch x := v.(type) {
	case string:
		return w.check(x, t, key)
	case []any:
		for i, c := range x {
			w.push("", i)
			if err := w.value(c, elem(t), key); err != nil {
				return err
			}
			w.pop()
		}
	case map[string]any:
		def := w.definition(t)
		for name, c := range x {
			if err := w.check(name, t, key); err != nil {
				return err
			}
			ft := fieldType(def, name)
			if ft == nil {
				ft = t // inside a JSON value: same scalar all the way down
			}
			w.push(name, 0)
			if err := w.value(c, ft, ownerKey(def, name)); err != nil {
				return err
			}
			w.pop()
		}
	}
	return nil
}

// check refuses s if it holds a forbidden character. Line breaks and tabs
// are allowed in multiline fields and inside JSON values (pretty-printed
// WebAuthn credentials).
func (w *inputWalker) check(s string, t *ast.Type, key string) *gqlerror.Error {
	allow := multiline[key] || (t != nil && t.Name() == "JSON")
	for _, r := range s {
		if forbiddenRune(r, allow) {
			field := w.field()
			return invalidInput(field, "%s holds a control or bidirectional-override character (%U)", fieldName(field), r)
		}
	}
	return nil
}

func invalidInput(field []string, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(apperr.InvalidInput), "field": field}
	return err
}

func (w *inputWalker) definition(t *ast.Type) *ast.Definition {
	if t == nil || w.schema == nil {
		return nil
	}
	return w.schema.Types[t.Name()]
}

func fieldType(def *ast.Definition, name string) *ast.Type {
	if def == nil || def.Kind != ast.InputObject {
		return nil
	}
	if f := def.Fields.ForName(name); f != nil {
		return f.Type
	}
	return nil
}

// ownerKey is "Type.field", the key of the multiline table ("" inside
// JSON values and lists of scalars).
func ownerKey(def *ast.Definition, name string) string {
	if def == nil || def.Kind != ast.InputObject {
		return ""
	}
	return def.Name + "." + name
}

func elem(t *ast.Type) *ast.Type {
	if t != nil && t.Elem != nil {
		return t.Elem
	}
	return t
}

func fieldName(field []string) string {
	if len(field) == 0 {
		return "an argument"
	}
	return fmt.Sprintf("%q", field[len(field)-1])
}
