package app_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"danbao/ent/payment"
	"danbao/internal/testenv"
)

// TestPaymentInChromium authorizes an escrowed payment in real headless
// Chromium with a DevTools virtual authenticator (e2e/payment.mjs): the
// browser answers createPayment's payment-bound challenge and the money
// moves into escrow, with the evidence stored.
func TestPaymentInChromium(t *testing.T) {
	node, e2e, chromium, missing := browserTools()
	if len(missing) > 0 {
		reason := "browser test needs: " + strings.Join(missing, "; ")
		if os.Getenv(RequireBrowserEnv) == "1" {
			t.Fatalf("%s (%s=1)", reason, RequireBrowserEnv)
		}
		t.Skip(reason)
	}
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, node, filepath.Join(e2e, "payment.mjs"), e.Origin, testenv.NewResidentID(), testenv.NewResidentID())
		cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
		out, err := cmd.CombinedOutput()
		t.Logf("node e2e/payment.mjs %s (%v):\n%s", e.Origin, time.Since(start).Round(time.Millisecond), out)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("e2e/payment.mjs exited %d", exit.ExitCode())
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"buyer topped up 200.00", "registered a passkey psk_", "CREATED",
			"PAID held 120.00 userVerified true factors 2", "replayed assertion refused (INVALID_STATE)", "buyer available 80.00",
			"ok: a payment authorized with a passkey in Chromium"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q", want)
			}
		}
		p, err := e.App.DB.Client.Payment.Query().Where(payment.StatusEQ(payment.StatusPAID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.AuthorizationEvidence["userVerified"] != true || p.AuthorizationTransactionID == "" || !strings.Contains(string(out), "authorized payment "+string(p.ID)) {
			t.Fatalf("stored payment: %+v", p)
		}
		ltx, err := e.App.DB.Client.LedgerTransaction.Get(ctx, p.AuthorizationTransactionID)
		if err != nil || ltx.Evidence["signature"] == nil {
			t.Fatalf("evidence on the journal transaction: %v %+v", err, ltx)
		}
		verifyOK(t, e)
	})
}
