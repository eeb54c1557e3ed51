package app_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"danbao/ent/schema/pulid"
	"danbao/internal/testenv"
)

// refusal is what a refused step must answer: its code, its field (""
// for none) and its extensions, exactly.
type refusal struct {
	code, field string
	ext         map[string]any
}

// wantRefusal checks r against w, and that nothing moved since before.
func (e *escrowEnv) wantRefusal(t *testing.T, what string, r result, w refusal, b buyer, seller *testenv.User, before moneySnapshot) {
	t.Helper()
	if len(r.UserErrors) != 1 || r.Payment != nil {
		t.Fatalf("%s: %+v, want one %s", what, r, w.code)
	}
	ue := r.UserErrors[0]
	field := ""
	if len(ue.Field) > 0 {
		field = ue.Field[len(ue.Field)-1]
	}
	ext := w.ext
	if ext == nil {
		ext = map[string]any{}
	}
	got, _ := json.Marshal(ue.Extensions)
	wanted, _ := json.Marshal(ext)
	if ue.Code != w.code || field != w.field || (len(ue.Extensions) > 0 || len(ext) > 0) && string(got) != string(wanted) {
		t.Fatalf("%s: %s field %q extensions %s, want %s field %q extensions %s", what, ue.Code, field, got, w.code, w.field, wanted)
	}
	if after := e.snap(t, b, seller); after != before {
		t.Fatalf("%s changed money: %+v -> %+v", what, before, after)
	}
}

// TestPaymentPartiesRefusals: what createPayment and authorizePayment
// check of the payer and the payee, read with one statement each (the
// create's parties read, the limits read of the authorization), refuses
// with the same codes, fields and extensions as separate checks would,
// in their order: the payee's existence and role, the payer's then the
// payee's verification, the payer's freeze, the payee's collection
// restriction; at authorization the controls come before the limits.
func TestPaymentPartiesRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "500.00")
		seller := e.RegisterVerified(t)
		op := e.Operator(t)
		unverified := e.Register(t)
		frozen := func(on bool) { t.Helper(); e.control(t, op, "freezeAccount", "frozen", b.User, on) }
		restrict := func(u *testenv.User, on bool) {
			t.Helper()
			e.control(t, op, "restrictCollection", "restricted", u, on)
		}

		noPayee := refusal{"NOT_FOUND", "payeeId", nil}
		payeeUnverified := refusal{"VERIFICATION_REQUIRED", "payeeId", nil}
		payerUnverified := refusal{"VERIFICATION_REQUIRED", "", map[string]any{"level": "UNVERIFIED", "requiredLevel": "I"}}
		payerFrozen := refusal{"ACCOUNT_FROZEN", "", map[string]any{"restriction": "FROZEN", "reason": "fake trades"}}
		payeeRestricted := refusal{"ACCOUNT_FROZEN", "payeeId", map[string]any{"restriction": "COLLECTION_RESTRICTED"}}

		n := 0
		create := func(what string, payer buyer, payee *testenv.User, w refusal) {
			t.Helper()
			n++
			before := e.snap(t, b, seller)
			e.wantRefusal(t, what, e.create(t, payer, payee, "5.00", fmt.Sprintf("parties-%d", n)), w, b, seller, before)
		}
		nobody := &testenv.User{ID: string(pulid.New(pulid.PrefixUser))}
		unverifiedPayer := buyer{User: e.Register(t)}

		create("no such payee", b, nobody, noPayee)
		create("operator payee", b, op, noPayee)
		create("unverified payee", b, unverified, payeeUnverified)
		create("unverified payer", unverifiedPayer, seller, payerUnverified)
		create("both unverified", unverifiedPayer, unverified, payerUnverified)
		create("unverified payer, no such payee", unverifiedPayer, nobody, noPayee)

		frozen(true)
		create("frozen payer", b, seller, payerFrozen)
		create("frozen payer, unverified payee", b, unverified, payeeUnverified)
		create("frozen payer, operator payee", b, op, noPayee)
		restrict(seller, true)
		create("frozen payer, restricted payee", b, seller, payerFrozen)
		frozen(false)
		create("restricted payee", b, seller, payeeRestricted)
		restrict(unverified, true)
		create("restricted unverified payee", b, unverified, payeeUnverified)
		restrict(seller, false)

		// Authorization: the controls, read with the limits, come first.
		authorize := func(what, id string, w refusal) {
			t.Helper()
			n++
			before := e.snap(t, b, seller)
			e.wantRefusal(t, what, e.authorize(t, b, id, e.beginAuth(t, b, id), fmt.Sprintf("parties-a-%d", n)), w, b, seller, before)
		}
		p := e.create(t, b, seller, "5.00", "parties-p")
		if p.code() != "" {
			t.Fatalf("create: %+v", p)
		}
		id := p.Payment.ID
		restrict(seller, true)
		authorize("restricted payee", id, payeeRestricted)
		frozen(true)
		authorize("frozen payer, restricted payee", id, payerFrozen)
		restrict(seller, false)
		authorize("frozen payer", id, payerFrozen)
		if _, ues := setDaily(t, e, b.User, "CNY", "1.00"); len(ues) > 0 {
			t.Fatalf("setDailyLimit: %+v", ues)
		}
		authorize("frozen payer over the daily limit", id, payerFrozen)
		frozen(false)
		before := e.snap(t, b, seller)
		if r := e.authorize(t, b, id, e.beginAuth(t, b, id), "parties-a-over"); r.code() != "LIMIT_EXCEEDED" || r.UserErrors[0].Extensions["limit"] != "DAILY_AUTHORIZED_PAYMENTS" {
			t.Fatalf("over the daily limit: %+v, want LIMIT_EXCEEDED", r)
		}
		want(t, "nothing moved", e.snap(t, b, seller), before)
		if _, ues := setDaily(t, e, b.User, "CNY", "100.00"); len(ues) > 0 {
			t.Fatalf("setDailyLimit: %+v", ues)
		}
		if r := e.authorize(t, b, id, e.beginAuth(t, b, id), "parties-a-ok"); r.code() != "" || r.Payment.Status != "PAID" {
			t.Fatalf("authorize after lifting: %+v", r)
		}
		verifyOK(t, e.Env)
	})
}
