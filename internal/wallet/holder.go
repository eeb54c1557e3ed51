package wallet

import (
	"context"
	"fmt"

	"danbao/ent"
	"danbao/ent/bankcard"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
)

// holderAAD binds a sealed holder name to its user and its card, so that
// the ciphertext cannot be moved to another row.
func holderAAD(userID, cardID pulid.ID) []byte {
	return []byte("danbao/bankcard/v1\x00" + string(userID) + "\x00" + string(cardID) + "\x00holderName")
}

// HolderName returns the card holder's name in full, decrypted. Only
// server-side checks and audits use it: the API shows MaskedHolderName.
func (s *Service) HolderName(card *ent.BankCard) (string, error) {
	if card.HolderNameCiphertext == nil || card.KeyVersion == nil {
		return card.HolderName, nil // not reached by SealHolderNames yet
	}
	pt, err := s.vault.Decrypt(*card.HolderNameCiphertext, *card.KeyVersion, holderAAD(card.UserID, card.ID))
	if err != nil {
		return "", fmt.Errorf("decrypting the holder name of card %s: %w", card.ID, err)
	}
	return string(pt), nil
}

// SealHolderNames encrypts the holder names that are still in plain text
// (cards linked before migration 0005), clearing the plain text and
// setting the masked name, and re-encrypts those sealed under a key
// version other than the current one (after a key rotation). It works in
// transactions of batch rows, each row by compare-and-set on its key
// version, so several instances may run it at once; it returns how many
// rows it changed. The server runs it at start-up.
func (s *Service) SealHolderNames(ctx context.Context, batch int) (int, error) {
	if batch < 1 {
		batch = 100
	}
	current := s.vault.CurrentVersion()
	return dbtx.Batches(ctx, s.client, func(tx *ent.Tx) (int, error) {
		cards, err := tx.BankCard.Query().
			Where(bankcard.Or(bankcard.KeyVersionIsNil(), bankcard.KeyVersionNEQ(current))).
			Order(ent.Asc(bankcard.FieldID)).Limit(batch).All(ctx)
		if err != nil {
			return 0, err
		}
		done := 0
		for _, c := range cards {
			name, err := s.HolderName(c)
			if err != nil {
				return 0, err
			}
			sealed, version, err := s.vault.Encrypt([]byte(name), holderAAD(c.UserID, c.ID))
			if err != nil {
				return 0, err
			}
			upd := tx.BankCard.Update().Where(bankcard.ID(c.ID))
			if c.KeyVersion == nil {
				upd.Where(bankcard.KeyVersionIsNil())
			} else {
				upd.Where(bankcard.KeyVersion(*c.KeyVersion))
			}
			n, err := upd.SetHolderNameCiphertext(sealed).SetKeyVersion(version).
				SetHolderName("").SetMaskedHolderName(kyc.MaskLegalName(name)).Save(ctx)
			if err != nil {
				return 0, err
			}
			done += n
		}
		return done, nil
	})
}
