package app_test

import (
	"strings"
	"testing"

	"danbao/internal/testenv"
)

// TestTextLimitsCountCharacters: every free-text input is limited in
// characters, not bytes: Chinese text (three bytes a character in UTF-8)
// at the limit is stored and read back whole, one character more is
// INVALID_INPUT on its field. Before, the database layer counted bytes
// and text of a third of the limit or more failed as INTERNAL.
func TestTextLimitsCountCharacters(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		cjk := func(n int) string { return strings.Repeat("茶", n) }
		ok := func(what string, r result) {
			t.Helper()
			if r.code() != "" {
				t.Fatalf("%s at its limit in Chinese: %s %+v", what, r.code(), r.UserErrors)
			}
		}
		over := func(what, field string, r result) {
			t.Helper()
			if r.code() != "INVALID_INPUT" || len(r.UserErrors) != 1 || r.UserErrors[0].Field[len(r.UserErrors[0].Field)-1] != field {
				t.Fatalf("%s one character over its limit: %s %+v, want INVALID_INPUT on %s", what, r.code(), r.UserErrors, field)
			}
		}

		var reg struct {
			Register struct {
				User       *struct{ DisplayName string }
				UserErrors []userError
			}
		}
		for _, n := range []int{65, 64} {
			e.Do(t, "", `mutation($in: RegisterInput!){ register(input:$in) { user { displayName } userErrors { code field } } }`,
				map[string]any{"in": map[string]any{"phone": testenv.NewPhone(), "password": "correct horse battery", "displayName": cjk(n)}}).Decode(t, &reg)
			if n == 65 && (len(reg.Register.UserErrors) != 1 || reg.Register.UserErrors[0].Code != "INVALID_INPUT") {
				t.Fatalf("register with a 65-character name: %+v", reg.Register)
			}
		}
		if len(reg.Register.UserErrors) > 0 || reg.Register.User.DisplayName != cjk(64) {
			t.Fatalf("register with a 64-character Chinese name: %+v", reg.Register)
		}

		create := func(key, field string, n int) result {
			return e.mutate(t, b.User, "createPayment", "CreatePaymentInput",
				map[string]any{"payeeId": seller.ID, "amount": "1.00", "idempotencyKey": key, field: cjk(n)})
		}
		over("description", "description", create("d-over", "description", 201))
		ok("description", create("d", "description", 200))
		over("merchantOrderRef", "merchantOrderRef", create("m-over", "merchantOrderRef", 65))
		ok("merchantOrderRef", create("m", "merchantOrderRef", 64))

		id := e.pay(t, b, seller, "10.00")
		ship := func(carrier, tracking int) result {
			return e.on(t, seller, "markShipped", "MarkShippedInput", id, map[string]any{"carrier": cjk(carrier), "trackingNumber": cjk(tracking)})
		}
		over("carrier", "carrier", ship(65, 64))
		over("trackingNumber", "trackingNumber", ship(64, 65))
		ok("carrier and trackingNumber", ship(64, 64))
		reason := func(name, input string, n int) result {
			return e.on(t, b.User, name, input, id, map[string]any{"amount": "1.00", "reason": cjk(n)})
		}
		over("refund reason", "reason", reason("requestRefund", "RequestRefundInput", 501))
		ok("refund reason", reason("requestRefund", "RequestRefundInput", 500))

		id = e.pay(t, b, seller, "10.00")
		e.ship(t, seller, id)
		dispute := func(n int) result {
			return e.on(t, b.User, "openDispute", "OpenDisputeInput", id, map[string]any{"reason": cjk(n)})
		}
		over("dispute reason", "reason", dispute(501))
		ok("dispute reason", dispute(500))

		var fr map[string]struct{ UserErrors []userError }
		for _, n := range []int{501, 500} {
			e.Do(t, op.AccessToken, `mutation($in: FreezeAccountInput!){ r: freezeAccount(input:$in) { userErrors { code field } } }`,
				map[string]any{"in": map[string]any{"userId": seller.ID, "frozen": true, "reason": cjk(n)}}).Decode(t, &fr)
			if got := fr["r"].UserErrors; (n == 501) != (len(got) == 1 && got[0].Code == "INVALID_INPUT") || (n == 500 && len(got) > 0) {
				t.Fatalf("freezeAccount with a %d-character reason: %+v", n, got)
			}
		}
		verifyOK(t, e.Env)
		for _, l := range strings.Split(e.Logs(), "\n") {
			if strings.Contains(l, "level=ERROR") {
				t.Fatalf("an error was logged: %s", l)
			}
		}
	})
}
