package escrow

import (
	"context"
	"fmt"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/money"
)

// fee counts release into the seller's monthly volume and returns the fee
// on it. The volume row is raised (created when missing) by one upsert
// that returns it under its lock, so concurrent releases to one seller
// share the free volume exactly once.
func (s *Service) fee(ctx context.Context, tx *ent.Tx, p *ent.Payment, release int64, now time.Time) (int64, error) {
	var received int64
	if err := dbtx.QueryRow(ctx, tx, []any{&received}, addVolumeSQL, string(pulid.New(pulid.PrefixSellerVolume)),
		string(p.PayeeID), p.Currency, Month(now), release); err != nil {
		return 0, fmt.Errorf("seller volume: %w", err)
	}
	c := money.Currency(p.Currency)
	return Fee(release, received-release, s.cfg.Fees.FreeMonthly[c], s.cfg.Fees.RateBPS), nil
}

// addVolumeSQL adds $5 to a seller's volume in a currency and month,
// creating the row when missing, and returns the volume.
const addVolumeSQL = `INSERT INTO seller_volumes (id, seller_id, currency, month, received_minor) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (seller_id, currency, month) DO UPDATE SET received_minor = seller_volumes.received_minor + excluded.received_minor
RETURNING received_minor`
