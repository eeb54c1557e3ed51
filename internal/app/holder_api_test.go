package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"danbao/ent/bankcard"
	"danbao/ent/schema/pulid"
	"danbao/internal/testenv"
)

// TestCardHolderNameSealed: the holder name of a linked card is stored only
// encrypted (no plain text in any column), decrypts to the name, and the
// API shows it masked.
func TestCardHolderNameSealed(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := e.RegisterVerified(t)
		id := linkCard(t, e, u, cardOK)
		var out struct {
			Node struct{ HolderName string }
		}
		e.Do(t, u.AccessToken, `query($id: ID!){ node(id:$id) { ... on BankCard { holderName } } }`, map[string]any{"id": id}).Decode(t, &out)
		if out.Node.HolderName != "L* ***" {
			t.Errorf("holderName = %q, want the masked name L* ***", out.Node.HolderName)
		}
		card, err := e.App.DB.Client.BankCard.Get(ctx, pulid.ID(id))
		if err != nil {
			t.Fatal(err)
		}
		if card.HolderName != "" || card.HolderNameCiphertext == nil || card.KeyVersion == nil {
			t.Fatalf("stored holder_name %q, ciphertext %v, key version %v", card.HolderName, card.HolderNameCiphertext != nil, card.KeyVersion)
		}
		if bytes.Contains(bytes.ToUpper(*card.HolderNameCiphertext), []byte("LI LEI")) {
			t.Fatal("ciphertext contains the name")
		}
		if name, err := e.App.Wallet.HolderName(card); err != nil || name != "LI LEI" {
			t.Fatalf("HolderName = %q, %v", name, err)
		}
	})
}

// TestCardHolderNameBackfill: a card stored in plain text before migration
// 0005 is sealed and masked by the start-up backfill, once.
func TestCardHolderNameBackfill(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := e.RegisterVerified(t)
		id := pulid.ID(linkCard(t, e, u, cardOK))
		other := pulid.ID(linkCard(t, e, u, cardOK))
		// Put the rows back as migration 0005 finds old ones.
		if err := e.App.DB.Client.BankCard.Update().Where(bankcard.IDIn(id, other)).
			SetHolderName("Li Lei").SetMaskedHolderName("").ClearHolderNameCiphertext().ClearKeyVersion().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// Batches of one: both rows are reached.
		n, err := e.App.Wallet.SealHolderNames(ctx, 1)
		if err != nil || n != 2 {
			t.Fatalf("SealHolderNames = %d, %v; want 2", n, err)
		}
		card, err := e.App.DB.Client.BankCard.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if card.HolderName != "" || card.MaskedHolderName != "L* ***" || card.KeyVersion == nil {
			t.Fatalf("after backfill: holder_name %q, masked %q, key version %v", card.HolderName, card.MaskedHolderName, card.KeyVersion)
		}
		if name, err := e.App.Wallet.HolderName(card); err != nil || !strings.EqualFold(name, "Li Lei") {
			t.Fatalf("HolderName = %q, %v", name, err)
		}
		if n, err := e.App.Wallet.SealHolderNames(ctx, 1); err != nil || n != 0 {
			t.Fatalf("second run sealed %d, %v; want 0", n, err)
		}
	})
}
