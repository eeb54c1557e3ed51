package main

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"danbao/internal/config"
)

// TestHTTPServerTimeoutsFromConfig: every HTTP server timeout comes from
// its setting, and none is left at zero (no limit).
func TestHTTPServerTimeoutsFromConfig(t *testing.T) {
	env := map[string]string{
		"DANBAO_HTTP_READ_HEADER_TIMEOUT": "3s",
		"DANBAO_HTTP_READ_TIMEOUT":        "7s",
		"DANBAO_HTTP_WRITE_TIMEOUT":       "11s",
		"DANBAO_HTTP_IDLE_TIMEOUT":        "13s",
		"DANBAO_REQUEST_TIMEOUT":          "5s",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv := httpServer(cfg, http.NotFoundHandler(), slog.Default())
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	want := []time.Duration{3 * time.Second, 7 * time.Second, 11 * time.Second, 13 * time.Second}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("timeouts %v, want %v", got, want)
		}
	}
	if cfg.RequestTimeout != 5*time.Second {
		t.Fatalf("request timeout %v", cfg.RequestTimeout)
	}
	// A write timeout that would cut off a request still within its
	// deadline is refused, naming both settings.
	env["DANBAO_HTTP_WRITE_TIMEOUT"] = "5s"
	if _, err := config.Load(func(k string) string { return env[k] }); err == nil {
		t.Fatal("write timeout not longer than the request timeout accepted")
	}
}
