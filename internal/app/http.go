package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"danbao/internal/obs"
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

// graphQLRequest is the shape of a POST body (the GraphQL over HTTP spec).
type graphQLRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// limitBody refuses bodies above max with 413 before anything reads them,
// and refuses a POST body that is not a well-formed GraphQL request with
// 400 and a short reason, never echoing the body back (gqlgen's own error
// would quote it whole).
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, r, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", "request body is larger than the limit")
			return
		}
		if r.Body == nil || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
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
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/json" || mt == "application/graphql-response+json" || mt == "" {
			var req graphQLRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&req); err != nil {
				writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "request body is not a valid GraphQL request: "+jsonReason(err))
				return
			}
			if dec.More() {
				writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", "request body is not a valid GraphQL request: trailing data after the JSON object")
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
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
			h.Set("Access-Control-Expose-Headers", "X-Request-Id")
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
