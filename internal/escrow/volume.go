package escrow

import (
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/money"
	"danbao/internal/trust"
)

// volume is a release's addition to the seller's monthly volume: the
// upsert that makes it (addVolumeSQL, as a trust.Rider) and the volume it
// returns.
type volume struct {
	rider    trust.Rider
	release  int64
	received int64 // after this release, once the rider ran
}

// newVolume counts release into p's seller's volume of now's month. The
// row is raised (created when missing) by one upsert that returns it
// under its lock, so concurrent releases to one seller share the free
// volume exactly once. rescore runs it: with the trust scores (on
// PostgreSQL in the statement that stores them), always after the score
// rows are locked. Lock order of a release: the payment, the two parties'
// score rows in user-ID order, then the seller's volume row, then
// accounts; no transaction takes a volume row before a score row.
func newVolume(p *ent.Payment, release int64, now time.Time) *volume {
	v := &volume{release: release}
	v.rider = trust.Rider{SQL: addVolumeSQL, Dest: []any{&v.received},
		Args: []any{string(pulid.New(pulid.PrefixSellerVolume)), string(p.PayeeID), p.Currency, Month(now), release}}
	return v
}

// fee returns the fee on the release, from the volume the upsert returned.
func (s *Service) fee(p *ent.Payment, v *volume) int64 {
	c := money.Currency(p.Currency)
	return Fee(v.release, v.received-v.release, s.cfg.Fees.FreeMonthly[c], s.cfg.Fees.RateBPS)
}

// addVolumeSQL adds $5 to a seller's volume in a currency and month,
// creating the row when missing, and returns the volume.
const addVolumeSQL = `INSERT INTO seller_volumes (id, seller_id, currency, month, received_minor) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (seller_id, currency, month) DO UPDATE SET received_minor = seller_volumes.received_minor + excluded.received_minor
RETURNING received_minor`
