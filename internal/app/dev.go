package app

import (
	_ "embed"
	"net/http"
)

// devPasskeysPage is a small page that registers a passkey and signs in
// with it through navigator.credentials and the GraphQL API, the way a web
// wallet would: options through PublicKeyCredential.parse*OptionsFromJSON,
// responses through credential.toJSON(). It is served at /dev/passkeys only
// while the playground is on, and the browser test drives it.
//
//go:embed dev/passkeys.html
var devPasskeysPage []byte

func devPasskeys(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	_, _ = w.Write(devPasskeysPage)
}
