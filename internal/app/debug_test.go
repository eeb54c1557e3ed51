package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"danbao/internal/app"
	"danbao/internal/testenv"
)

// TestProfilesOnlyOnTheDebugHandler: the profiling endpoints answer on the
// debug handler and are unknown to the public one.
func TestProfilesOnlyOnTheDebugHandler(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		rec := httptest.NewRecorder()
		app.DebugHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("debug handler %s: %d", path, rec.Code)
		}
		if path == "/debug/pprof/goroutine?debug=1" && !strings.Contains(rec.Body.String(), "goroutine") {
			t.Errorf("goroutine profile: %.100s", rec.Body.String())
		}
		pub := httptest.NewRecorder()
		e.App.Handler().ServeHTTP(pub, httptest.NewRequest(http.MethodGet, path, nil))
		if pub.Code != http.StatusNotFound {
			t.Errorf("public handler %s: %d, want 404", path, pub.Code)
		}
	}
}
