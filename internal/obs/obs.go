// Package obs is danbao's observability: request ids, the structured
// logger (log/slog) that carries them, and Prometheus metrics.
package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
)

// reqKey carries a request's id and client address in one context value
// (one allocation per request instead of two).
type reqKey struct{}

type reqInfo struct{ id, ip string }

func info(ctx context.Context) reqInfo {
	ri, _ := ctx.Value(reqKey{}).(*reqInfo)
	if ri == nil {
		return reqInfo{}
	}
	return *ri
}

// ClientIP returns the address the request came from (Proxies.ClientAddress
// with the proxies RequestIDs was given), or "".
func ClientIP(ctx context.Context) string { return info(ctx).ip }

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

var ridPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string { return info(ctx).id }

// WithRequestID returns ctx carrying id (and the client address ctx
// carries, if any).
func WithRequestID(ctx context.Context, id string) context.Context {
	ri := info(ctx)
	ri.id = id
	return context.WithValue(ctx, reqKey{}, &ri)
}

// NewRequestID returns a random request id.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RequestIDs gives every request an id (a well-formed incoming
// X-Request-Id is kept, so a gateway's id carries through), echoes it in
// the response, and records the request's client address as proxies see
// it (Proxies.ClientAddress).
func RequestIDs(proxies Proxies, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &reqInfo{id: r.Header.Get(RequestIDHeader)}
		if !ridPattern.MatchString(ri.id) {
			ri.id = NewRequestID()
		}
		w.Header().Set(RequestIDHeader, ri.id)
		ri.ip = proxies.ClientAddress(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), reqKey{}, ri)))
	})
}

// ContextHandler is a slog.Handler that adds the request id of the record's
// context to every record.
type ContextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}
