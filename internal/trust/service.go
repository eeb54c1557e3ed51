package trust

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"danbao/ent"
	"danbao/ent/payment"
	"danbao/ent/paymentevent"
	"danbao/ent/predicate"
	"danbao/ent/schema/pulid"
	"danbao/ent/trustscore"
	"danbao/ent/user"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/limits"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"
)

// Service computes, stores and reads trust scores.
type Service struct {
	client *ent.Client
	levels limits.LevelSource
	cfg    Config
	now    func() time.Time
}

// New returns a Service reading verification levels from levels. now is
// the clock (time.Now when nil).
func New(client *ent.Client, levels limits.LevelSource, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, levels: levels, cfg: cfg, now: now}
}

// Config returns the thresholds the service applies.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// InputsOf returns the inputs stored with row.
func InputsOf(row *ent.TrustScore) Inputs {
	return Inputs{Level: row.Level, AccountAgeDays: row.AccountAgeDays, CompletedTrades: row.CompletedTrades,
		CompletedSales: row.CompletedSales, Refunds: row.Refunds, LostDisputes: row.LostDisputes,
		LastLostDisputeAt: row.LastLostDisputeAt}
}

// Delta is how one payment transition changes a user's counted inputs.
type Delta struct {
	Trades  int  // +1 when the payment became COMPLETED, -1 when it left COMPLETED (a fraud claim)
	Sales   int  // the same, for the seller only
	Refunds int  // +1 for the seller when the payment's first refund is made
	Lost    bool // an operator decided a dispute against the user
}

// ResolveDisputeEvent and LostByKey name the payment audit rows Recount
// reads: package escrow writes, on each RESOLVE_DISPUTE row, who lost in
// the detail under LostByKey ("PAYER" or "PAYEE").
const (
	ResolveDisputeEvent = "RESOLVE_DISPUTE"
	LostByKey           = "lostBy"
)

// profile returns userID's verification level and whole days since they
// registered, at now. Errors: NOT_FOUND (userId).
func (s *Service) profile(ctx context.Context, c *ent.Client, userID pulid.ID, now time.Time) (kyc.Level, int, error) {
	u, err := c.User.Query().Where(user.ID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", 0, apperr.New(apperr.NotFound, "no such user").WithField("userId")
	}
	if err != nil {
		return "", 0, err
	}
	level, err := s.levels.Level(ctx, c, userID)
	if err != nil {
		return "", 0, err
	}
	return level, ageDays(u.CreatedAt, now), nil
}

// ageDays is the account age the score counts: whole days since
// registration, never negative.
func ageDays(registered, now time.Time) int { return max(int(now.Sub(registered)/(24*time.Hour)), 0) }

// scored sets row's level and account age from the user at now and its
// score from them and row's counters.
func (s *Service) scored(ctx context.Context, c *ent.Client, row *ent.TrustScore, now time.Time) error {
	level, age, err := s.profile(ctx, c, row.UserID, now)
	if err != nil {
		return err
	}
	setProfile(row, level, age, now)
	return nil
}

// setProfile sets row's level, account age and computation time, then its
// score from them and row's counters.
func setProfile(row *ent.TrustScore, level kyc.Level, age int, now time.Time) {
	row.Level, row.AccountAgeDays, row.ComputedAt = level, age, now
	row.Score = Score(InputsOf(row))
}

// Recount computes userID's inputs and score afresh through c at now,
// counting every payment and decided dispute of theirs, and returns them
// as an unsaved row. It reads all the user's payments: operators use it
// (through Repair) to check or rebuild a stored row; the transitions keep
// the row by delta (Apply). Errors: NOT_FOUND (userId).
func (s *Service) Recount(ctx context.Context, c *ent.Client, userID pulid.ID, now time.Time) (*ent.TrustScore, error) {
	completed := payment.StatusEQ(payment.StatusCOMPLETED)
	trades, err := c.Payment.Query().Where(completed, payment.Or(payment.PayerID(userID), payment.PayeeID(userID))).Count(ctx)
	if err != nil {
		return nil, err
	}
	sales, err := c.Payment.Query().Where(completed, payment.PayeeID(userID)).Count(ctx)
	if err != nil {
		return nil, err
	}
	refunds, err := c.Payment.Query().Where(payment.PayeeID(userID), payment.RefundedAmountGT(0)).Count(ctx)
	if err != nil {
		return nil, err
	}
	row := &ent.TrustScore{UserID: userID, CompletedTrades: trades, CompletedSales: sales, Refunds: refunds}
	// The decided disputes of the user's payments, with who lost each.
	decided, err := c.PaymentEvent.Query().Where(paymentevent.Event(ResolveDisputeEvent),
		predicate.PaymentEvent(func(sel *sql.Selector) {
			t := sql.Table(payment.Table)
			sel.Where(sql.In(sel.C(paymentevent.FieldPaymentID), sql.Select(t.C(payment.FieldID)).From(t).
				Where(sql.Or(sql.EQ(t.C(payment.FieldPayerID), userID), sql.EQ(t.C(payment.FieldPayeeID), userID)))))
		})).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(decided) > 0 {
		ids := make([]pulid.ID, len(decided))
		for i, ev := range decided {
			ids[i] = ev.PaymentID
		}
		payers, err := c.Payment.Query().Where(payment.IDIn(ids...)).Select(payment.FieldPayerID).All(ctx)
		if err != nil {
			return nil, err
		}
		payerOf := map[pulid.ID]pulid.ID{}
		for _, p := range payers {
			payerOf[p.ID] = p.PayerID
		}
		for _, ev := range decided {
			role := "PAYEE"
			if payerOf[ev.PaymentID] == userID {
				role = "PAYER"
			}
			if ev.Detail[LostByKey] != role {
				continue
			}
			row.LostDisputes++
			if at := ev.CreatedAt; row.LastLostDisputeAt == nil || at.After(*row.LastLostDisputeAt) {
				row.LastLostDisputeAt = &at
			}
		}
	}
	if err := s.scored(ctx, c, row, now); err != nil {
		return nil, err
	}
	return row, nil
}

// Rider is one statement of another package that Apply runs once the
// score rows are locked and updated: an INSERT or UPDATE ... RETURNING one
// row, with placeholders $1 to $len(Args), whose row is scanned into Dest.
// On PostgreSQL it is a data-modifying CTE of the statement that stores
// the scores (one round trip less); elsewhere it runs on its own right
// after that statement. Package escrow rides the seller's monthly volume
// on a release's scores: the rows it locks are then always taken after the
// score rows.
type Rider struct {
	SQL  string
	Args []any
	Dest []any
}

// Run runs r on its own through q.
func (r *Rider) Run(ctx context.Context, q dbtx.Querier) error {
	return dbtx.QueryRow(ctx, q, r.Dest, r.SQL, r.Args...)
}

// Apply adds, inside tx, each user's delta to their stored inputs and
// recomputes their score from the row: O(1) per user, whatever their
// volume. Package escrow calls it in the transaction of each payment that
// completes, is refunded (in whole or part) or is disputed, right after
// the payment's compare-and-set; now is the transition's time (that of a
// lost dispute). One UPDATE (addAll) adds every user's delta in SQL,
// returning the counters with the user's registration time and
// verification level, and takes the rows' locks until tx ends, in
// user-ID order (on PostgreSQL a locking subquery sorted as Go sorts), so
// concurrent transitions of one user apply one after the other and lose
// no delta, and transitions sharing users cannot deadlock on them. The
// scores, computed from what it returned, are then stored in one UPDATE
// of the rows already locked (storeScores), which carries rider (nil:
// none) on PostgreSQL; rider runs after it elsewhere, and in every case
// after all score rows are locked.
//
// The update changes all the rows or none: when a user has no row yet
// (their first transition since the table exists), it changes nothing,
// locks nothing, and each user is then updated by a statement of their
// own (add), in user-ID order, the missing one getting a row from
// Recount, less this transition's delta, which is then added like any
// other; when a concurrent transaction inserts the row first, only the
// delta is added to it.
func (s *Service) Apply(ctx context.Context, tx *ent.Tx, now time.Time, deltas map[pulid.ID]Delta, rider *Rider) error {
	users := make([]pulid.ID, 0, len(deltas))
	for u := range deltas {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i] < users[j] })
	o, known := dbtx.OriginOf(tx)
	postgres := known && o.Dialect == dialect.Postgres
	var rows []*ent.TrustScore
	if known && len(users) > 0 {
		var err error
		if rows, err = addAll(ctx, tx, users, deltas, now, postgres); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		// Not begun by dbtx.WithTx (the engine unknown), or a row missing:
		// one user at a time, in user-ID order.
		for _, u := range users {
			row, err := s.add(ctx, tx, u, deltas[u], now, postgres)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
	}
	if postgres {
		return storeScores(ctx, tx, rows, now, rider)
	}
	if err := storeScores(ctx, tx, rows, now, nil); err != nil || rider == nil {
		return err
	}
	return rider.Run(ctx, tx)
}

// addAllSQL adds each user's delta to their counters (%[1]s: the SET
// clauses, CASE on user_id) when every user of the list (%[2]s) has a row,
// and returns each row's counters with the user's registration time and
// verification level (that of their identity binding, as
// realname.Service.Level reads it: NULL for none, that is unverified).
// %[3]s is, on PostgreSQL, the lock taken on the rows in user-ID order
// (ORDER BY ... FOR NO KEY UPDATE: the rows are locked as the sort emits
// them; COLLATE "C" orders as Go's sort does).
const addAllSQL = `UPDATE trust_scores SET %[1]s
WHERE id IN (SELECT id FROM trust_scores WHERE user_id IN (%[2]s)
	AND (SELECT COUNT(*) FROM trust_scores WHERE user_id IN (%[2]s)) = %[4]d%[3]s)
RETURNING user_id, id, completed_trades, completed_sales, refunds, lost_disputes, last_lost_dispute_at,
	(SELECT created_at FROM users WHERE users.id = trust_scores.user_id),
	(SELECT level FROM identity_bindings WHERE identity_bindings.user_id = trust_scores.user_id)`

const lockInOrder = `
	ORDER BY user_id COLLATE "C" FOR NO KEY UPDATE`

// addAll adds each user's delta (users sorted) with one UPDATE (addAllSQL)
// and returns the rows in users' order with their level, account age and
// score at now (not stored yet); none when some user has no row.
func addAll(ctx context.Context, tx *ent.Tx, users []pulid.ID, deltas map[pulid.ID]Delta, now time.Time, postgres bool) ([]*ent.TrustScore, error) {
	var args []any
	for _, u := range users {
		if deltas[u].Lost {
			args = append(args, now) // $1, the lost disputes' time
			break
		}
	}
	var in, trades, sales, refunds, lost, lastLost strings.Builder
	for _, u := range users {
		d := deltas[u]
		args = append(args, string(u), d.Trades, d.Sales, d.Refunds)
		id := len(args) - 3
		if in.Len() > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", id)
		fmt.Fprintf(&trades, " WHEN $%d THEN CAST($%d AS INTEGER)", id, id+1)
		fmt.Fprintf(&sales, " WHEN $%d THEN CAST($%d AS INTEGER)", id, id+2)
		fmt.Fprintf(&refunds, " WHEN $%d THEN CAST($%d AS INTEGER)", id, id+3)
		if d.Lost {
			fmt.Fprintf(&lost, " WHEN $%d THEN 1", id)
			fmt.Fprintf(&lastLost, " WHEN $%d THEN $1", id)
		}
	}
	set := "completed_trades = completed_trades + CASE user_id" + trades.String() + " ELSE 0 END," +
		" completed_sales = completed_sales + CASE user_id" + sales.String() + " ELSE 0 END," +
		" refunds = refunds + CASE user_id" + refunds.String() + " ELSE 0 END"
	if lost.Len() > 0 {
		set += ", lost_disputes = lost_disputes + CASE user_id" + lost.String() + " ELSE 0 END," +
			" last_lost_dispute_at = CASE user_id" + lastLost.String() + " ELSE last_lost_dispute_at END"
	}
	lock := ""
	if postgres {
		lock = lockInOrder
	}
	q := fmt.Sprintf(addAllSQL, set, in.String(), lock, len(users))
	res, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("trust: add deltas: %w", err)
	}
	defer res.Close()
	byUser := map[pulid.ID]*ent.TrustScore{}
	for res.Next() {
		row := &ent.TrustScore{}
		var userID, id string
		var last, created dbtx.NullTime
		var level stdsql.NullString
		if err := res.Scan(&userID, &id, &row.CompletedTrades, &row.CompletedSales, &row.Refunds,
			&row.LostDisputes, &last, &created, &level); err != nil {
			return nil, err
		}
		row.UserID, row.ID, row.LastLostDisputeAt = pulid.ID(userID), pulid.ID(id), last.Ptr()
		createdAt := created.Ptr()
		if createdAt == nil {
			return nil, apperr.New(apperr.NotFound, "no such user").WithField("userId")
		}
		lv := kyc.Unverified
		if level.Valid {
			lv = kyc.Level(level.String)
		}
		setProfile(row, lv, ageDays(*createdAt, now), now)
		byUser[row.UserID] = row
	}
	if err := errors.Join(res.Err(), res.Close()); err != nil {
		return nil, err
	}
	if len(byUser) == 0 {
		return nil, nil
	}
	rows := make([]*ent.TrustScore, len(users))
	for i, u := range users {
		if rows[i] = byUser[u]; rows[i] == nil {
			return nil, fmt.Errorf("trust: %d of %d score rows updated", len(byUser), len(users))
		}
	}
	return rows, nil
}

// add adds d to userID's row, creating it first when missing (Apply), and
// returns the row with its level, account age and score at now (not
// stored yet).
func (s *Service) add(ctx context.Context, tx *ent.Tx, userID pulid.ID, d Delta, now time.Time, postgres bool) (*ent.TrustScore, error) {
	update := func() (*ent.TrustScore, error) {
		rows, err := addAll(ctx, tx, []pulid.ID{userID}, map[pulid.ID]Delta{userID: d}, now, postgres)
		if err != nil || len(rows) == 0 {
			return nil, err
		}
		return rows[0], nil
	}
	if row, err := update(); err != nil || row != nil {
		return row, err
	}
	// The recount sees this transition's payment as the compare-and-set
	// left it, but not its audit row (written later): the lost dispute is
	// not in it.
	row, err := s.Recount(ctx, tx.Client(), userID, now)
	if err != nil {
		return nil, err
	}
	err = tx.TrustScore.Create().SetUserID(userID).SetScore(row.Score).SetLevel(row.Level).
		SetAccountAgeDays(row.AccountAgeDays).SetCompletedTrades(row.CompletedTrades - d.Trades).
		SetCompletedSales(row.CompletedSales - d.Sales).SetRefunds(row.Refunds - d.Refunds).
		SetLostDisputes(row.LostDisputes).SetNillableLastLostDisputeAt(row.LastLostDisputeAt).SetComputedAt(now).
		OnConflictColumns(trustscore.FieldUserID).Ignore().Exec(ctx)
	if err != nil {
		return nil, err
	}
	if row, err := update(); err != nil || row != nil {
		return row, err
	}
	return nil, fmt.Errorf("trust: no score row for %s after creating it", userID)
}

// storeScores stores the score, level and account age of rows (locked by
// tx already) in one UPDATE, with rider (nil: none) as a data-modifying
// CTE of it (PostgreSQL only).
func storeScores(ctx context.Context, tx *ent.Tx, rows []*ent.TrustScore, now time.Time, rider *Rider) error {
	if len(rows) == 0 {
		if rider == nil {
			return nil
		}
		return rider.Run(ctx, tx)
	}
	var args []any
	if rider != nil {
		args = append(args, rider.Args...) // $1 to $len(rider.Args)
	}
	args = append(args, now)
	at := len(args)
	var score, level, age, in strings.Builder
	for _, r := range rows {
		n := len(args)
		fmt.Fprintf(&score, " WHEN $%d THEN CAST($%d AS INTEGER)", n+1, n+2)
		fmt.Fprintf(&level, " WHEN $%d THEN $%d", n+1, n+3)
		fmt.Fprintf(&age, " WHEN $%d THEN CAST($%d AS INTEGER)", n+1, n+4)
		if in.Len() > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", n+1)
		args = append(args, string(r.ID), r.Score, string(r.Level), r.AccountAgeDays)
	}
	q := "UPDATE trust_scores SET score = CASE id" + score.String() + " END, level = CASE id" + level.String() +
		" END, account_age_days = CASE id" + age.String() + fmt.Sprintf(" END, computed_at = $%d WHERE id IN (", at) + in.String() + ")"
	var n int64
	if rider == nil {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("trust: store scores: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("trust: store scores: %w", err)
		}
	} else {
		// The rider's row, and how many scores were stored.
		q = "WITH r AS (" + rider.SQL + "), s AS (" + q + " RETURNING 1)\nSELECT (SELECT COUNT(*) FROM s), r.* FROM r"
		if err := dbtx.QueryRow(ctx, tx, append([]any{&n}, rider.Dest...), q, args...); err != nil {
			return fmt.Errorf("trust: store scores: %w", err)
		}
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("trust: stored %d scores of %d", n, len(rows))
	}
	return nil
}

// Repair recounts userID's inputs (Recount) and stores them with the
// score, under the row's lock, replacing what the deltas added up to. It
// returns the row before (nil when none) and after. Errors: NOT_FOUND
// (userId).
func (s *Service) Repair(ctx context.Context, userID pulid.ID) (before, after *ent.TrustScore, err error) {
	now := s.clock()
	err = dbtx.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		// Lock the row (when there is one) before reading anything.
		if _, err := tx.TrustScore.Update().Where(trustscore.UserID(userID)).AddLostDisputes(0).Save(ctx); err != nil {
			return err
		}
		if before, err = s.Stored(ctx, tx.Client(), userID); err != nil {
			return err
		}
		if after, err = s.Recount(ctx, tx.Client(), userID, now); err != nil {
			return err
		}
		return tx.TrustScore.Create().SetUserID(userID).SetScore(after.Score).SetLevel(after.Level).
			SetAccountAgeDays(after.AccountAgeDays).SetCompletedTrades(after.CompletedTrades).
			SetCompletedSales(after.CompletedSales).SetRefunds(after.Refunds).SetLostDisputes(after.LostDisputes).
			SetNillableLastLostDisputeAt(after.LastLostDisputeAt).SetComputedAt(now).
			OnConflictColumns(trustscore.FieldUserID).UpdateNewValues().Exec(ctx)
	})
	return before, after, err
}

// current returns userID's score at now through c: the stored counters
// with the level and account age read afresh, or a Recount when none is
// stored yet. Nothing is written. Errors: NOT_FOUND (userId).
func (s *Service) current(ctx context.Context, c *ent.Client, userID pulid.ID, now time.Time) (*ent.TrustScore, error) {
	row, err := s.Stored(ctx, c, userID)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return s.Recount(ctx, c, userID, now)
	}
	return row, s.scored(ctx, c, row, now)
}

// Stored returns userID's stored score (nil when none was computed yet).
func (s *Service) Stored(ctx context.Context, c *ent.Client, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := c.TrustScore.Query().Where(trustscore.UserID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return row, err
}

// Score returns userID's stored score, or, when none is stored yet, one
// computed now and not stored. Errors: NOT_FOUND (userId).
func (s *Service) Score(ctx context.Context, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := s.Stored(ctx, s.client, userID)
	if err != nil || row != nil {
		return row, err
	}
	return s.Recount(ctx, s.client, userID, s.clock())
}

// TrustedMerchant reports whether row's user carries the trusted-merchant
// badge now (false for nil: no score yet).
func (s *Service) TrustedMerchant(row *ent.TrustScore) bool {
	return row != nil && s.cfg.TrustedMerchant(row.Score, InputsOf(row), s.clock())
}

// CheckRestrict recomputes userID's score inside tx from the stored
// counters and their current level and account age (without storing it)
// and answers whether an operator may restrict the user for it: nil when
// the score is below the floor. Errors: NOT_FOUND (userId),
// TRUST_SCORE_ABOVE_FLOOR (extensions score, floor).
func (s *Service) CheckRestrict(ctx context.Context, tx *ent.Tx, userID pulid.ID) (*ent.TrustScore, error) {
	row, err := s.current(ctx, tx.Client(), userID, s.clock())
	if err != nil {
		return nil, err
	}
	if !s.cfg.MayRestrict(row.Score) {
		return row, apperr.New(apperr.TrustScoreAboveFloor, "the trust score %d is not below the floor %d", row.Score, s.cfg.RestrictFloor).
			WithField("userId").With("score", row.Score).With("floor", s.cfg.RestrictFloor)
	}
	return row, nil
}

// AdjustDailyScore scales a daily window w by a user's stored score
// (AdjustDaily of rules.go); package limits reads the score along with the
// window and leaves w as it is while none is stored. It implements
// limits.TrustAdjuster.
func (s *Service) AdjustDailyScore(w limits.DailyWindow, score int) limits.DailyWindow {
	return AdjustDaily(w, score)
}

// SameCounts reports whether a and b hold the same counted inputs (trades,
// sales, refunds, lost disputes and when the latest was lost).
func SameCounts(a, b *ent.TrustScore) bool {
	sameLast := a.LastLostDisputeAt == nil && b.LastLostDisputeAt == nil ||
		a.LastLostDisputeAt != nil && b.LastLostDisputeAt != nil && a.LastLostDisputeAt.Equal(*b.LastLostDisputeAt)
	return sameLast && a.CompletedTrades == b.CompletedTrades && a.CompletedSales == b.CompletedSales &&
		a.Refunds == b.Refunds && a.LostDisputes == b.LostDisputes
}

// CheckAll recounts every stored score row (Recount) and calls wrong with
// the stored row and the recount of each whose counts differ; with fix,
// it stores the recount (Repair) first. It returns how many rows it
// checked and how many differed. For operators (danbao trust recount).
func (s *Service) CheckAll(ctx context.Context, fix bool, wrong func(stored, recounted *ent.TrustScore)) (checked, differ int, err error) {
	var after pulid.ID
	for {
		rows, err := s.client.TrustScore.Query().Where(trustscore.IDGT(after)).Order(ent.Asc(trustscore.FieldID)).Limit(100).All(ctx)
		if err != nil || len(rows) == 0 {
			return checked, differ, err
		}
		for _, row := range rows {
			after = row.ID
			checked++
			full, err := s.Recount(ctx, s.client, row.UserID, s.clock())
			if err != nil {
				return checked, differ, err
			}
			if SameCounts(row, full) {
				continue
			}
			if fix {
				if row, full, err = s.Repair(ctx, row.UserID); err != nil {
					return checked, differ, err
				}
			}
			differ++
			wrong(row, full)
		}
	}
}
