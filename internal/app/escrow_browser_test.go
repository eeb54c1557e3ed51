package app_test

import (
	"context"
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
	tools := requireBrowser(t)
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out := tools.run(ctx, t, "payment.mjs", []string{"buyer topped up 200.00", "registered a passkey psk_", "CREATED",
			"PAID held 120.00 userVerified true factors 2", "replayed assertion refused (INVALID_STATE)", "buyer available 80.00",
			"ok: a payment authorized with a passkey in Chromium"},
			e.Origin, testenv.NewResidentID(), testenv.NewResidentID())
		p, err := e.App.DB.Client.Payment.Query().Where(payment.StatusEQ(payment.StatusPAID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.AuthorizationEvidence["userVerified"] != true || p.AuthorizationTransactionID == "" || !strings.Contains(out, "authorized payment "+string(p.ID)) {
			t.Fatalf("stored payment: %+v", p)
		}
		ltx, err := e.App.DB.Client.LedgerTransaction.Get(ctx, p.AuthorizationTransactionID)
		if err != nil || ltx.Evidence["signature"] == nil {
			t.Fatalf("evidence on the journal transaction: %v %+v", err, ltx)
		}
		verifyOK(t, e)
	})
}
