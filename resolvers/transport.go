package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

type decodedKey struct{}

// WithDecodedRequest returns ctx carrying a POST body already decoded (by
// the HTTP layer, which checks it before GraphQL runs), so that the
// transport does not read and decode it a second time.
func WithDecodedRequest(ctx context.Context, p *graphql.RawParams) context.Context {
	return context.WithValue(ctx, decodedKey{}, p)
}

// decodedPOST is the POST transport for bodies decoded once by the HTTP
// layer (see WithDecodedRequest): a 1 MiB body of JSON values costs its
// decoded form once, not twice.
type decodedPOST struct{}

var _ graphql.Transport = decodedPOST{}

// Supports implements graphql.Transport.
func (decodedPOST) Supports(r *http.Request) bool {
	_, ok := r.Context().Value(decodedKey{}).(*graphql.RawParams)
	return ok && r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

// Do implements graphql.Transport.
func (decodedPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	params := r.Context().Value(decodedKey{}).(*graphql.RawParams)
	start := graphql.Now()
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: start}
	serve(w, r, params, exec, func(op ast.Operation) bool {
		if op != ast.Subscription {
			return true
		}
		// Subscriptions are served over WebSocket, where the connection
		// and subscription caps hold; over POST one would wait for its
		// first event until the request deadline.
		refuse(w, http.StatusBadRequest, "subscriptions are served over WebSocket (graphql-transport-ws), not POST")
		return false
	})
}

// serve runs the operation params hold, once served(its type) has agreed
// (it answers the request itself when it refuses).
func serve(w http.ResponseWriter, r *http.Request, params *graphql.RawParams, exec graphql.GraphExecutor, served func(ast.Operation) bool) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			w.WriteHeader(http.StatusUnprocessableEntity)
		}
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if !served(rc.Operation.Operation) {
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	resp := responses(ctx)
	if resp == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The deadline passed before execution began: gqlgen answers nothing.
		resp = &graphql.Response{Errors: gqlerror.List{{
			Message:    "the request ran out of time",
			Extensions: map[string]any{"code": "REQUEST_TIMEOUT"},
		}}}
	}
	writeResponse(w, resp)
}

// writeResponse writes resp as JSON. The data gqlgen produced is already
// compact JSON: it is written as it is, not re-encoded by json.Marshal
// (which would scan and copy the whole document once more); the rest of
// the response (errors, extensions) is encoded as before.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	b, err := encodeResponse(resp)
	if err != nil {
		http.Error(w, `{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`, http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

// encodeResponse encodes resp byte for byte as json.Marshal does, without
// re-encoding the data when json.Marshal would leave it as it is: compact
// JSON (gqlgen writes no spaces) with nothing to escape for HTML (<, >, &,
// U+2028, U+2029; any byte 0xE2, which starts the last two, takes the slow
// path too).
func encodeResponse(resp *graphql.Response) ([]byte, error) {
	if resp == nil || resp.Label != "" || resp.Path != nil || resp.HasNext != nil || !verbatim(resp.Data) {
		return json.Marshal(resp)
	}
	b := make([]byte, 0, len(resp.Data)+64)
	b = append(b, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		b = append(b, `"errors":`...)
		b = append(b, errs...)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	if len(resp.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, resp.Data...)
	}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"extensions":`...)
		b = append(b, ext...)
	}
	return append(b, '}'), nil
}

// verbatim reports whether json.Marshal would copy data unchanged, as far as
// escaping goes (gqlgen's output is compact).
func verbatim(data []byte) bool {
	for _, c := range data {
		if c == '<' || c == '>' || c == '&' || c == 0xE2 {
			return false
		}
	}
	return true
}

// refuse answers a request refused by a transport with a GraphQL error
// document whose extensions.code is BAD_REQUEST.
func refuse(w http.ResponseWriter, status int, msg string) {
	refuseCoded(w, status, "BAD_REQUEST", msg)
}

func refuseCoded(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	writeResponse(w, &graphql.Response{Errors: gqlerror.List{{
		Message: msg, Extensions: map[string]any{"code": code},
	}}})
}

// codedGET is gqlgen's GET transport (queries only) with a stable code
// on each of its refusals: undecodable variables or extensions, and an
// operation other than a query.
type codedGET struct{}

var _ graphql.Transport = codedGET{}

// Supports implements graphql.Transport.
func (codedGET) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

// Do implements graphql.Transport.
func (codedGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		refuse(w, http.StatusBadRequest, "the query string is malformed")
		return
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	for name, dst := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		if v := q.Get(name); v != "" {
			if JSONValues([]byte(v), MaxJSONValues) > MaxJSONValues {
				refuseCoded(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("%s holds more than %d JSON values", name, MaxJSONValues))
				return
			}
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				refuse(w, http.StatusBadRequest, name+" could not be decoded")
				return
			}
		}
	}
	params.ReadTime.End = graphql.Now()
	serve(w, r, params, exec, func(op ast.Operation) bool {
		if op == ast.Query {
			return true
		}
		w.Header().Set("Allow", "POST")
		refuse(w, http.StatusMethodNotAllowed, "GET serves queries only: send mutations by POST, subscriptions over WebSocket")
		return false
	})
}
