// Package gqldoc carries GraphQL descriptions from the ent schema into the
// GraphQL that entgql generates (graph/ent.graphql), for the parts entgql
// has no place for: a type's own description and the values of an enum
// field. Field and edge descriptions come from their Comment. The hook
// that applies these annotations runs in ent/entc.go.
package gqldoc

// AnnotationName is the key of Annotation among a schema's annotations.
const AnnotationName = "GraphQLDoc"

// Annotation describes an ent type (Description) or an enum field
// (Description of the enum, Values by enum value) in GraphQL.
type Annotation struct {
	Description string            `json:"Description,omitempty"`
	Values      map[string]string `json:"Values,omitempty"`
}

// Name implements ent's schema.Annotation.
func (Annotation) Name() string { return AnnotationName }

// Type describes an ent type's GraphQL object.
func Type(description string) Annotation { return Annotation{Description: description} }

// Enum describes an enum field's GraphQL enum and each of its values.
func Enum(description string, values map[string]string) Annotation {
	return Annotation{Description: description, Values: values}
}
