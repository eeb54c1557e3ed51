package resolvers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"danbao/graph/model"
	"danbao/internal/apperr"

	"github.com/99designs/gqlgen/graphql"
)

// TestErrorCodesMatchSchema keeps internal/apperr and the ErrorCode enum of
// graph/common.graphqls equal: a code missing from the enum would fail to
// marshal as a userError.
func TestErrorCodesMatchSchema(t *testing.T) {
	var inSchema []apperr.Code
	for _, c := range model.AllErrorCode {
		inSchema = append(inSchema, apperr.Code(c))
	}
	if !slices.Equal(apperr.Codes, inSchema) {
		t.Fatalf("apperr.Codes %v\nErrorCode enum %v", apperr.Codes, inSchema)
	}
}

// TestEndedRequestsAreNoInternalErrors: an error caused by the request's
// deadline is REQUEST_TIMEOUT and one caused by the client cancelling it
// is CANCELLED, neither logged as an internal error; a cancellation error
// in a request still running (not the client's doing) stays INTERNAL and
// is logged.
func TestEndedRequestsAreNoInternalErrors(t *testing.T) {
	var logged bytes.Buffer
	present := timeouts(ErrorPresenter(slog.New(slog.NewTextHandler(&logged, nil))))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		code string
		logs bool
	}{
		{"client cancelled", cancelled, fmt.Errorf("replay: %w", context.Canceled), "CANCELLED", false},
		{"deadline passed", expired, fmt.Errorf("query: %w", context.DeadlineExceeded), "REQUEST_TIMEOUT", false},
		{"cancelled inside a live request", context.Background(), fmt.Errorf("query: %w", context.Canceled), "INTERNAL", true},
		{"other error of a cancelled request", cancelled, errors.New("disk on fire"), "INTERNAL", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged.Reset()
			ctx := graphql.WithResponseContext(tc.ctx, graphql.DefaultErrorPresenter, graphql.DefaultRecover)
			e := present(ctx, tc.err)
			if got := e.Extensions["code"]; got != tc.code {
				t.Fatalf("code %v, want %s", got, tc.code)
			}
			if got := logged.Len() > 0; got != tc.logs {
				t.Fatalf("logged %v (%q), want %v", got, logged.String(), tc.logs)
			}
		})
	}
}
