package resolvers

import (
	_ "danbao/ent/runtime" // sets the DefaultID functions
	"os"
	"regexp"
	"testing"

	"danbao/ent/bankcard"
	entpasskey "danbao/ent/passkey"
	"danbao/ent/payment"
	"danbao/ent/paymentevent"
	"danbao/ent/posting"
	"danbao/ent/riskhold"
	"danbao/ent/schema/pulid"
	"danbao/ent/topup"
	"danbao/ent/user"
	entverification "danbao/ent/verification"
	"danbao/ent/withdrawal"
)

// TestNodeLoadersCoverEveryNodeType checks that node(id:) can load every
// type the schema says implements Node, by the prefix its ent schema gives
// new IDs, and nothing else.
func TestNodeLoadersCoverEveryNodeType(t *testing.T) {
	sdl, err := os.ReadFile("../schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	nodeTypes := regexp.MustCompile(`(?m)^type (\w+) implements Node\b`).FindAllStringSubmatch(string(sdl), -1)
	newID := map[string]func() pulid.ID{
		"User": user.DefaultID, "BankCard": bankcard.DefaultID, "TopUp": topup.DefaultID,
		"Withdrawal": withdrawal.DefaultID, "LedgerEntry": posting.DefaultID,
		"Verification": entverification.DefaultID, "Passkey": entpasskey.DefaultID,
		"Payment": payment.DefaultID, "PaymentEvent": paymentevent.DefaultID, "HeldItem": riskhold.DefaultID,
	}
	if len(nodeTypes) != len(loaders) {
		t.Errorf("schema has %d Node types, node(id:) loads %d", len(nodeTypes), len(loaders))
	}
	for _, m := range nodeTypes {
		gen, ok := newID[m[1]]
		if !ok {
			t.Errorf("Node type %s: add it to this test and to loaders", m[1])
			continue
		}
		if p := gen().Prefix(); loaders[p] == nil {
			t.Errorf("Node type %s: no loader for its prefix %q", m[1], p)
		}
	}
}
