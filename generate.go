package main

// Code generation, in the one right order: ent (models and the Relay
// GraphQL in graph/ent.graphql), then gqlgen (graph/generated.go, models,
// resolver stubs) and the lists it marshals in sequence (seqlists), then
// the public SDL export (schema.graphql).
//
//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate
//go:generate go run ./internal/tools/seqlists -f graph/generated.go
//go:generate go run ./internal/tools/sdl -o schema.graphql
