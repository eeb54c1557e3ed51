package escrow

import (
	"maps"
	"testing"

	"danbao/ent"
)

// TestDetailFor: the payer and operators read an audit row's detail
// whole; the seller and a partner app (no user) read it without the
// payer's evidence, risk assessment and failure code.
func TestDetailFor(t *testing.T) {
	p := &ent.Payment{PayerID: "usr_payer", PayeeID: "usr_payee"}
	detail := map[string]any{"carrier": "SF", "evidence": map[string]any{"type": "passkey"},
		"risk": map[string]any{"decision": "STEP_UP"}, "code": "PASSKEY_CLONE_SUSPECTED"}
	public := map[string]any{"carrier": "SF"}
	for _, c := range []struct {
		name string
		who  *Caller
		want map[string]any
	}{
		{"payer", &Caller{UserID: "usr_payer"}, detail},
		{"operator", &Caller{UserID: "usr_op", Operator: true}, detail},
		{"seller", &Caller{UserID: "usr_payee"}, public},
		{"partner app", nil, public},
	} {
		got := DetailFor(c.who, p, detail)
		if len(got) != len(c.want) || !maps.EqualFunc(got, c.want, func(a, b any) bool { return true }) {
			t.Errorf("%s reads %v, want the keys of %v", c.name, got, c.want)
		}
	}
	if DetailFor(nil, p, nil) != nil {
		t.Error("an empty detail is not null")
	}
}
