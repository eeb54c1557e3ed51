package app_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"danbao/ent/passkey"
	"danbao/ent/user"
	"danbao/internal/testenv"
)

// RequireBrowserEnv, when "1" (CI sets it), turns a missing browser
// toolchain into a failure instead of a skip.
const RequireBrowserEnv = "DANBAO_REQUIRE_BROWSER"

// browserTools returns node, the e2e folder and Chromium, or why they cannot
// be used.
func browserTools() (node, e2e, chromium string, missing []string) {
	_, file, _, _ := runtime.Caller(0)
	e2e = filepath.Join(filepath.Dir(file), "..", "..", "e2e")
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "e2e/node_modules has no playwright-core (run: npm ci --prefix e2e)")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" is missing (run: apt-get install -y chromium)")
	}
	return node, e2e, chromium, missing
}

// TestPasskeysInChromium registers a passkey, signs in with it, lists and
// revokes it in real headless Chromium, through the /dev/passkeys page and a
// DevTools virtual authenticator (e2e/passkeys.mjs), against a server on
// http://localhost:PORT (a secure context, RP ID localhost).
func TestPasskeysInChromium(t *testing.T) {
	node, e2e, chromium, missing := browserTools()
	if len(missing) > 0 {
		reason := "browser test needs: " + strings.Join(missing, "; ")
		if os.Getenv(RequireBrowserEnv) == "1" {
			t.Fatalf("%s (%s=1)", reason, RequireBrowserEnv)
		}
		t.Skip(reason)
	}
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, node, filepath.Join(e2e, "passkeys.mjs"), e.Origin)
		cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
		out, err := cmd.CombinedOutput()
		t.Logf("node e2e/passkeys.mjs %s (%v):\n%s", e.Origin, time.Since(start).Round(time.Millisecond), out)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("e2e/passkeys.mjs exited %d", exit.ExitCode())
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"created account usr_", "registered a passkey psk_", "signed in with the passkey as usr_",
			"me.passkeys lists psk_", "revoked psk_", "no longer signs in (PASSKEY_REVOKED)", "ok: passkey registration, sign-in and revocation in Chromium"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q", want)
			}
		}
		// What the browser did is in the database: one passkey, used once,
		// revoked, on the account the page created.
		pk, err := e.App.DB.Client.Passkey.Query().Where(passkey.Nickname("Headless Chromium")).WithUser().Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pk.SignCount < 1 || pk.LastUsedAt == nil || pk.RevokedAt == nil || !pk.UserVerified ||
			!strings.Contains(string(out), "created account "+string(pk.UserID)) {
			t.Fatalf("stored passkey: count %d last used %v revoked %v uv %v user %s", pk.SignCount, pk.LastUsedAt, pk.RevokedAt, pk.UserVerified, pk.UserID)
		}
		if n, err := e.App.DB.Client.User.Query().Where(user.ID(pk.UserID)).Count(ctx); err != nil || n != 1 {
			t.Fatalf("user of the passkey: %d (%v)", n, err)
		}
	})
}
