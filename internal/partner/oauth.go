package partner

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"danbao/internal/apperr"
)

// TokenPath is the OAuth 2.0 token endpoint.
const TokenPath = "/oauth/token"

// TokenHandler serves POST /oauth/token with grant_type=client_credentials
// (RFC 6749 section 4.4). The client authenticates with HTTP Basic or with
// client_id and client_secret form fields (not both). Errors are the JSON
// of RFC 6749 section 5.2: invalid_request (400), invalid_client (401, with
// WWW-Authenticate when Basic was used), unsupported_grant_type (400),
// invalid_scope (400).
func (s *Service) TokenHandler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded", false)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the form could not be read", false)
			return
		}
		form := r.PostForm
		for k, v := range form {
			if len(v) > 1 {
				oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" is repeated", false)
				return
			}
		}
		if form.Get("grant_type") == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required", false)
			return
		}
		id, secret, basic := r.BasicAuth()
		if basic {
			// RFC 6749 section 2.3.1: Basic credentials are form-encoded first.
			var err1, err2 error
			id, err1 = url.QueryUnescape(id)
			secret, err2 = url.QueryUnescape(secret)
			if err1 != nil || err2 != nil || form.Has("client_secret") {
				oauthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method", false)
				return
			}
		} else {
			id, secret = form.Get("client_id"), form.Get("client_secret")
		}
		if id == "" || secret == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is required", basic)
			return
		}
		app, err := s.Authenticate(r.Context(), id, secret)
		if errors.Is(err, ErrInvalidClient) {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed", basic)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "oauth token: authenticating a client", "error", err)
			oauthError(w, http.StatusInternalServerError, "server_error", "internal error", false)
			return
		}
		if gt := form.Get("grant_type"); gt != "client_credentials" {
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported", false)
			return
		}
		token, exp, scopes, err := s.Token(app, form.Get("scope"))
		if apperr.Is(err, apperr.InvalidInput) {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope", false)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "oauth token: issuing", "error", err)
			oauthError(w, http.StatusInternalServerError, "server_error", "internal error", false)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": token, "token_type": "Bearer",
			"expires_in": int(time.Until(exp).Round(time.Second).Seconds()), "scope": strings.Join(scopes, " "),
		})
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string, basic bool) {
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="danbao"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
