package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"danbao/graph/model"
	"danbao/internal/apperr"
	"danbao/internal/obs"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// This file is the one place where errors become GraphQL (see
// docs/design.md, Errors). Domain failures of a mutation travel in its payload's
// userErrors; a caller who is signed out or not allowed, and every internal
// error, gets a top-level error with extensions.code.

// topLevel lists the codes that are never payload userErrors.
var topLevel = map[apperr.Code]bool{
	apperr.Unauthenticated: true,
	apperr.Forbidden:       true,
	apperr.Internal:        true,
}

// payloadErrors splits a service error: domain failures become userErrors
// (and a nil error), anything else is returned for the top level.
func payloadErrors(err error) ([]*model.UserError, error) {
	if err == nil {
		return []*model.UserError{}, nil
	}
	ae, ok := apperr.As(err)
	if !ok || topLevel[ae.Code] {
		return nil, err
	}
	ue := &model.UserError{Code: model.ErrorCode(ae.Code), Message: ae.Message, Field: ae.Field}
	if len(ae.Extensions) > 0 {
		ue.Extensions = model.JSONOf(ae.Extensions)
	}
	return []*model.UserError{ue}, nil
}

// ErrorPresenter turns a resolver error into a GraphQL error: domain errors
// keep their message and carry extensions.code; gqlgen's own parse and
// validation errors pass through; anything else is logged once here and
// shown only as "internal error" with the request id.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if ae, ok := apperr.As(err); ok && ae.Code != apperr.Internal {
			gqlErr.Message = ae.Message
			gqlErr.Extensions = map[string]any{"code": string(ae.Code)}
			for k, v := range ae.Extensions {
				gqlErr.Extensions[k] = v
			}
			if len(ae.Field) > 0 {
				gqlErr.Extensions["field"] = ae.Field
			}
			return gqlErr
		}
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Err == nil {
			// Produced by gqlgen itself (parse, validation, coercion).
			return gqlErr
		}
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Args == nil && len(fc.Field.Arguments) > 0 {
			// An argument failed to decode (a malformed ID, cursor or
			// time): gqlgen reports it before fc.Args is set.
			return &gqlerror.Error{
				Message:    "an argument of " + fc.Field.Name + " is malformed",
				Path:       gqlErr.Path,
				Locations:  gqlErr.Locations,
				Extensions: map[string]any{"code": string(apperr.InvalidInput)},
			}
		}
		rid := obs.RequestID(ctx)
		log.ErrorContext(ctx, "internal error", "error", err.Error(), "path", gqlErr.Path.String())
		return &gqlerror.Error{
			Message:    "internal error",
			Path:       gqlErr.Path,
			Extensions: map[string]any{"code": string(apperr.Internal), "requestId": rid},
		}
	}
}

// Recover turns a resolver panic into an internal error, logging the stack.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		return errors.New("panic in resolver")
	}
}
