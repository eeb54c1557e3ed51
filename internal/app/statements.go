package app

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"danbao/auth"
	"danbao/internal/apperr"
	"danbao/internal/obs"
	"danbao/internal/wallet"
)

// StatementsPath is the CSV statement download.
const StatementsPath = "/statements.csv"

// statementsCSV serves GET /statements.csv?from=&to=&currency= (from and
// to RFC 3339, currency default CNY): the signed-in user's statement as a
// CSV attachment (wallet.WriteStatementCSV), streamed as it is read. It
// needs the bearer access token, as /graphql does. Refusals are a
// GraphQL-shaped error document ({"errors":[{"message","extensions":{"code",
// "field",...}}]}): 401 UNAUTHENTICATED (extensions.reason), 400
// INVALID_INPUT (extensions.field names the parameter); once the first row
// is written an error can only cut the file short (it then lacks its
// CLOSING_BALANCE row) and is logged.
func statementsCSV(w *wallet.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		who, err := auth.Require(r.Context())
		if err != nil {
			statementRefusal(rw, r, http.StatusUnauthorized, err)
			return
		}
		q := r.URL.Query()
		in := wallet.StatementQuery{Currency: q.Get("currency")}
		if in.Currency == "" {
			in.Currency = "CNY"
		}
		for _, f := range []struct {
			name string
			to   *time.Time
		}{{"from", &in.From}, {"to", &in.To}} {
			t, perr := time.Parse(time.RFC3339Nano, q.Get(f.name))
			if perr != nil {
				statementRefusal(rw, r, http.StatusBadRequest, apperr.InvalidArgument(f.name, "%s must be an RFC 3339 time", f.name))
				return
			}
			*f.to = t
		}
		started := false
		err = w.WriteStatementCSV(r.Context(), rw, who.UserID, in, func() {
			started = true
			h := rw.Header()
			h.Set("Content-Type", "text/csv; charset=utf-8")
			h.Set("Content-Disposition", `attachment; filename="statement-`+in.From.UTC().Format("20060102")+"-"+in.To.UTC().Format("20060102")+`.csv"`)
			h.Set("Cache-Control", "no-store")
			h.Set("X-Content-Type-Options", "nosniff")
			rw.WriteHeader(http.StatusOK)
		})
		switch {
		case err == nil:
		case started:
			log.ErrorContext(r.Context(), "statement download cut short", "user", who.UserID, "error", err)
		case apperr.CodeOf(err) == apperr.InvalidInput:
			statementRefusal(rw, r, http.StatusBadRequest, err)
		default:
			log.ErrorContext(r.Context(), "statement download failed", "user", who.UserID, "error", err)
			statementRefusal(rw, r, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error"))
		}
	})
}

// statementRefusal answers with status and an error document carrying
// err's code, message, field and extensions (writeError's shape).
func statementRefusal(w http.ResponseWriter, r *http.Request, status int, err error) {
	ext := map[string]any{"code": string(apperr.CodeOf(err)), "requestId": obs.RequestID(r.Context())}
	msg := "internal error"
	if ae, ok := apperr.As(err); ok {
		msg = ae.Message
		for k, v := range ae.Extensions {
			ext[k] = v
		}
		if len(ae.Field) > 0 {
			ext["field"] = ae.Field
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": ext}}})
}
