package app

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// playgroundFiles is GraphiQL bundled from its npm packages
// (internal/app/playground: package.json, package-lock.json, src/, built
// into dist/ by `make playground`). The page loads only these files and
// talks only to /graphql on the same origin, so it works with no network.
//
//go:embed playground/dist
var playgroundFiles embed.FS

// playgroundCSP keeps the page to its own origin: no script, style, font or
// request may leave the server (fonts and icons are inline data: URLs).
const playgroundCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// playgroundHandler serves the page at /playground and its assets at
// /playground/NAME.
func playgroundHandler() http.Handler {
	dist, err := fs.Sub(playgroundFiles, "playground/dist")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", playgroundCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/playground"), "/")
		if name == "" || name == "index.html" {
			h.Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, dist, "index.html")
			return
		}
		h.Set("Cache-Control", "public, max-age=300")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}
