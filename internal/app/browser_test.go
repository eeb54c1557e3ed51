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
	"danbao/ent/schema/pulid"
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

// browser is the toolchain of the browser tests.
type browser struct{ node, e2e, chromium string }

// requireBrowser returns the toolchain, or skips the test (fails it when
// DANBAO_REQUIRE_BROWSER=1) when any part is missing.
func requireBrowser(t *testing.T) browser {
	node, e2e, chromium, missing := browserTools()
	if len(missing) > 0 {
		reason := "browser test needs: " + strings.Join(missing, "; ")
		if os.Getenv(RequireBrowserEnv) == "1" {
			t.Fatalf("%s (%s=1)", reason, RequireBrowserEnv)
		}
		t.Skip(reason)
	}
	return browser{node, e2e, chromium}
}

// run runs node e2e/<script> with args, logs its output, and fails the test
// when it exits non-zero or its output lacks any of wants.
func (b browser) run(ctx context.Context, t *testing.T, script string, wants []string, args ...string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.CommandContext(ctx, b.node, append([]string{filepath.Join(b.e2e, script)}, args...)...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+b.chromium)
	raw, err := cmd.CombinedOutput()
	out := string(raw)
	t.Logf("node e2e/%s %s (%v):\n%s", script, strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("e2e/%s exited %d", script, exit.ExitCode())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q", want)
		}
	}
	return out
}

// TestPasskeysInChromium registers a passkey, signs in with it, lists and
// revokes it in real headless Chromium, through the /dev/passkeys page and a
// DevTools virtual authenticator (e2e/passkeys.mjs), against a server on
// http://localhost:PORT (a secure context, RP ID localhost).
func TestPasskeysInChromium(t *testing.T) {
	tools := requireBrowser(t)
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := tools.run(ctx, t, "passkeys.mjs", []string{"created account usr_", "registered a passkey psk_", "signed in with the passkey as usr_",
			"me.passkeys lists psk_", "revoked psk_", "no longer signs in (PASSKEY_REVOKED)", "ok: passkey registration, sign-in and revocation in Chromium"},
			e.Origin)
		// What the browser did is in the database: one passkey, used once,
		// revoked, on the account the page created.
		pk, err := e.App.DB.Client.Passkey.Query().Where(passkey.Nickname("Headless Chromium")).WithUser().Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pk.SignCount < 1 || pk.LastUsedAt == nil || pk.RevokedAt == nil || !pk.UserVerified ||
			!strings.Contains(out, "created account "+string(pk.UserID)) {
			t.Fatalf("stored passkey: count %d last used %v revoked %v uv %v user %s", pk.SignCount, pk.LastUsedAt, pk.RevokedAt, pk.UserVerified, pk.UserID)
		}
		if n, err := e.App.DB.Client.User.Query().Where(user.ID(pk.UserID)).Count(ctx); err != nil || n != 1 {
			t.Fatalf("user of the passkey: %d (%v)", n, err)
		}
	})
}

// TestPlaygroundOfflineInChromium opens /playground in headless Chromium
// with every request beyond loopback aborted (e2e/playground.mjs): GraphiQL
// must load from the binary alone, its docs explorer show the schema, and
// `{ me { id } }` with a token answer the signed-in user.
func TestPlaygroundOfflineInChromium(t *testing.T) {
	tools := requireBrowser(t)
	e := testenv.New(t, testenv.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := tools.run(ctx, t, "playground.mjs", []string{"GraphiQL loaded from the server", "docs explorer shows Query.me",
		"no request left the machine", "ok: offline playground in Chromium"}, e.Origin)
	// The id the page showed is the account the script created.
	var created, answered string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "created account "); ok {
			created = v
		}
		if v, ok := strings.CutPrefix(line, "{ me { id } } answered "); ok {
			answered = v
		}
	}
	if created == "" || answered != created {
		t.Fatalf("created %q, the playground answered %q", created, answered)
	}
	if n, err := e.App.DB.Client.User.Query().Where(user.ID(pulid.ID(created))).Count(ctx); err != nil || n != 1 {
		t.Fatalf("user %s: %d (%v)", created, n, err)
	}
}
