package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"danbao/internal/obs"
	"danbao/resolvers"

	"github.com/99designs/gqlgen/graphql"
)

// writeError answers with a GraphQL-shaped error document and a status
// code, for failures that happen before GraphQL sees the request.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"message":    msg,
		"extensions": map[string]any{"code": code, "requestId": obs.RequestID(r.Context())},
	}}})
}

// MaxBodyValues bounds the JSON values of one request body
// (resolvers.MaxJSONValues, which also bounds a GET's variables and a
// subscription socket's messages).
const MaxBodyValues = resolvers.MaxJSONValues

// limitBody refuses bodies above max with 413 before anything reads them,
// refuses a POST body that is not a well-formed GraphQL request with 400
// and a short reason, never echoing the body back (gqlgen's own error
// would quote it whole), and one of more than MaxBodyValues JSON values
// with 413 before decoding it. A JSON body is decoded here, once: the
// GraphQL transport takes the result (resolvers.WithDecodedRequest).
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, r, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body is larger than the limit")
			return
		}
		if r.Header.Get("Upgrade") == "" && r.Method != http.MethodGet && r.Method != http.MethodPost &&
			r.Method != http.MethodHead && r.Method != http.MethodOptions {
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeError(w, r, http.StatusMethodNotAllowed, "BAD_REQUEST", "GraphQL is served by GET (queries) and POST")
			return
		}
		if r.Body == nil || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		mt := mediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			writeError(w, r, http.StatusUnsupportedMediaType, "BAD_REQUEST", "a POST body must be application/json")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, r, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body is larger than the limit")
			return
		}
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
			return
		}
		if resolvers.JSONValues(body, MaxBodyValues) > MaxBodyValues {
			writeError(w, r, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
				fmt.Sprintf("request body holds more than %d JSON values", MaxBodyValues))
			return
		}
		params := &graphql.RawParams{}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(params); err != nil {
			writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "request body is not a valid GraphQL request: "+jsonReason(err))
			return
		}
		if dec.More() {
			writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "request body is not a valid GraphQL request: trailing data after the JSON object")
			return
		}
		body = nil // the decoded form is all that is kept
		r = r.WithContext(resolvers.WithDecodedRequest(r.Context(), params))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// mediaType is mime.ParseMediaType's media type (lower case, parameters
// dropped; "" when malformed), without parsing the usual
// "application/json" at all.
func mediaType(contentType string) string {
	if contentType == "application/json" {
		return contentType
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt
}

// deadline gives each request at most d: its context ends then, so the
// database calls still running stop and the request answers
// REQUEST_TIMEOUT (see resolvers.NewHandler). A WebSocket upgrade is not
// a request that ends: its subscriptions live as long as the socket, which
// its token's expiry and keep-alive bound instead.
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// upgradeOnlyToWebSocket drops an Upgrade header that does not ask for a
// WebSocket (curl --http2 sends "Upgrade: h2c", which danbao does not
// speak): every later layer takes an Upgrade header for a subscription
// socket, and such a request got the socket handshake's 426 instead of its
// answer (found in review). It is answered as the plain request it also is.
func upgradeOnlyToWebSocket(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" && !headerHasToken(r.Header, "Upgrade", "websocket") {
			r = r.Clone(r.Context())
			r.Header.Del("Upgrade")
		}
		next.ServeHTTP(w, r)
	})
}

// headerHasToken reports whether a comma-separated header lists token
// (case-insensitively), as RFC 9110 writes Upgrade and Connection.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// jsonReason describes a decoding error without quoting the input.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON"
	case errors.As(err, &typ):
		return "field " + typ.Field + " must be " + typ.Type.String()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated JSON"
	}
	return "malformed JSON"
}

// cors answers preflights and sets CORS headers for the configured origins
// ("*" allows any). Requests from other origins get no CORS headers, so
// browsers refuse them.
func cors(origins []string, next http.Handler) http.Handler {
	any := slices.Contains(origins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (any || slices.Contains(origins, origin)) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Content-Disposition") // the statement's file name
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Allow", strings.Join([]string{"GET", "POST", "OPTIONS"}, ", "))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
