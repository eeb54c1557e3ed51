package app_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"danbao/internal/testenv"
)

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// TestWellKnownPasskeyDocuments: assetlinks.json and
// apple-app-site-association are served from configuration (inline JSON or
// a file), and are 404 when not configured.
func TestWellKnownPasskeyDocuments(t *testing.T) {
	const assetlinks = `[{"relation":["delegate_permission/common.handle_all_urls","delegate_permission/common.get_login_creds"],"target":{"namespace":"android_app","package_name":"com.example.wallet","sha256_cert_fingerprints":["AA:BB"]}}]`
	const aasa = `{"webcredentials":{"apps":["ABCDE12345.com.example.wallet"]}}`
	file := filepath.Join(t.TempDir(), "aasa.json")
	if err := os.WriteFile(file, []byte(aasa), 0o600); err != nil {
		t.Fatal(err)
	}
	e := testenv.New(t, testenv.SQLite,
		testenv.With("DANBAO_ASSETLINKS_JSON", assetlinks),
		testenv.With("DANBAO_APPLE_APP_SITE_ASSOCIATION", file))
	for path, want := range map[string]string{
		"/.well-known/assetlinks.json":            assetlinks,
		"/.well-known/apple-app-site-association": aasa,
	} {
		status, ct, body := get(t, e.Server.URL+path)
		if status != http.StatusOK || ct != "application/json" || body != want {
			t.Fatalf("GET %s: %d %q %q", path, status, ct, body)
		}
	}

	unset := testenv.New(t, testenv.SQLite)
	for _, path := range []string{"/.well-known/assetlinks.json", "/.well-known/apple-app-site-association"} {
		if status, _, _ := get(t, unset.Server.URL+path); status != http.StatusNotFound {
			t.Fatalf("GET %s unconfigured: %d, want 404", path, status)
		}
	}
}

// TestDevPasskeysPage: the browser test's page is served only while the
// playground is on.
func TestDevPasskeysPage(t *testing.T) {
	on := testenv.New(t, testenv.SQLite)
	status, ct, body := get(t, on.Server.URL+"/dev/passkeys")
	if status != http.StatusOK || ct != "text/html; charset=utf-8" || !strings.Contains(body, "parseCreationOptionsFromJSON") {
		t.Fatalf("GET /dev/passkeys with the playground on: %d %q", status, ct)
	}
	off := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_PLAYGROUND", "false"))
	if status, _, _ := get(t, off.Server.URL+"/dev/passkeys"); status != http.StatusNotFound {
		t.Fatalf("GET /dev/passkeys with the playground off: %d, want 404", status)
	}
}
