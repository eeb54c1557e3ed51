package ledger_test

import (
	"context"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/ledgertransaction"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/ledger"
	"danbao/internal/money"
	"danbao/internal/testenv"
)

// TestStampsNeverDecreaseInSeq: two instances whose clocks are half a
// minute apart post in turn; every journal entry (and its postings) is stamped at
// the flush with the later of the instance's clock and the last stamp, so
// stamps never go back as seq grows, and the chain still verifies.
func TestStampsNeverDecreaseInSeq(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		a, b := e.RegisterVerified(t), e.RegisterVerified(t)
		from, to := pulid.ID(a.ID), pulid.ID(b.ID)
		fund(t, e, from, 10_000)
		base := time.Now().UTC().Truncate(time.Microsecond)
		// Half a minute apart: within ledger.MaxClockLead, which caps a
		// clock further ahead on PostgreSQL (TestClockLeadIsCapped).
		lead := 30 * time.Second
		ahead, behind := ledger.New(e.App.DB.Client), ledger.New(e.App.DB.Client)
		ledger.SetClock(ahead, func() time.Time { return base.Add(lead) })
		ledger.SetClock(behind, func() time.Time { return base })
		var stamps []time.Time
		for i, l := range []*ledger.Service{ahead, behind, ahead, behind} {
			var p *ledger.Posted
			err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
				src, err := l.UserAccount(ctx, tx, from, money.CNY)
				if err != nil {
					return err
				}
				dst, err := l.UserAccount(ctx, tx, to, money.CNY)
				if err != nil {
					return err
				}
				p, err = l.Post(ctx, tx, ledger.Entry{Kind: "TRANSFER", Currency: money.CNY,
					Legs: []ledger.Leg{ledger.On(src, -int64(i+1)), ledger.On(dst, int64(i+1))}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			stamps = append(stamps, p.Transaction.CreatedAt)
		}
		for i, want := range stamps {
			if want.Before(base.Add(lead)) {
				t.Errorf("entry %d stamped %s, before the later clock's %s", i, want, base.Add(lead))
			}
		}
		rows, err := e.App.DB.Client.LedgerTransaction.Query().Order(ent.Asc(ledgertransaction.FieldSeq)).WithPostings().All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if i > 0 && r.CreatedAt.Before(rows[i-1].CreatedAt) {
				t.Errorf("seq %d stamped %s, before seq %d's %s", r.Seq, r.CreatedAt, rows[i-1].Seq, rows[i-1].CreatedAt)
			}
			for _, p := range r.Edges.Postings {
				if !p.CreatedAt.Equal(r.CreatedAt) || p.Day != r.CreatedAt.Format(time.DateOnly) {
					t.Errorf("posting %s stamped %s (%s), its entry %s", p.ID, p.CreatedAt, p.Day, r.CreatedAt)
				}
			}
		}
		mustVerify(t, e)
	})
}

// TestHistoryTimeBounds: a time filter selects exactly the entries stamped
// in [from, to), on both engines, with bounds between, on and beyond the
// entries' stamps.
func TestHistoryTimeBounds(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		u := e.RegisterVerified(t)
		// Stamps 5 s apart, within ledger.MaxClockLead of the database's
		// clock (PostgreSQL caps a clock that runs further ahead).
		const step = 5 * time.Second
		base := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		l := ledger.New(e.App.DB.Client)
		tick := 0
		ledger.SetClock(l, func() time.Time { return base.Add(time.Duration(tick) * step) })
		for tick = 0; tick < 10; tick++ { // entries stamped base, base+5s, ... base+45s
			err := dbtx.WithTx(ctx, e.App.DB.Client, func(tx *ent.Tx) error {
				custody, err := l.PlatformAccount(ctx, tx, ledger.KindCustody, money.CNY)
				if err != nil {
					return err
				}
				acct, err := l.UserAccount(ctx, tx, pulid.ID(u.ID), money.CNY)
				if err != nil {
					return err
				}
				_, err = l.Post(ctx, tx, ledger.Entry{Kind: "TOPUP", Currency: money.CNY,
					Legs: []ledger.Leg{ledger.On(custody, -int64(tick+1)), ledger.On(acct, int64(tick+1))}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		at := func(m float64) *time.Time { v := base.Add(time.Duration(m * float64(step))); return &v }
		for _, c := range []struct {
			name     string
			from, to *time.Time
			want     []int64 // amounts, newest first
		}{
			{"from-to on stamps", at(3), at(7), []int64{7, 6, 5, 4}},
			{"from-to between stamps", at(2.5), at(6.5), []int64{7, 6, 5, 4}},
			{"to only", nil, at(2), []int64{2, 1}},
			{"from only", at(8), nil, []int64{10, 9}},
			{"from after the last", at(10), nil, nil},
			{"to before the first", nil, at(-1), nil},
			{"empty window", at(4), at(4), nil},
		} {
			first := 50
			conn, err := l.History(ctx, pulid.ID(u.ID), ledger.Page{First: &first}, ledger.HistoryFilter{From: c.from, To: c.to})
			if err != nil {
				t.Fatal(c.name, err)
			}
			var got []int64
			for _, edge := range conn.Edges {
				got = append(got, edge.Node.Amount)
			}
			if len(got) != len(c.want) {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
				continue
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("%s: got %v, want %v", c.name, got, c.want)
					break
				}
			}
		}
	})
}

// TestClockLeadIsCapped: on PostgreSQL an instance whose clock runs an
// hour ahead stamps at most ledger.MaxClockLead ahead of the database
// server's clock, so it cannot carry every later stamp to its time; on
// SQLite (one machine, one clock) its clock is taken as it is.
func TestClockLeadIsCapped(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		a := pulid.ID(e.RegisterVerified(t).ID)
		b := pulid.ID(e.RegisterVerified(t).ID)
		fund(t, e, a, 1_000)
		fast := ledger.New(e.App.DB.Client)
		ledger.SetClock(fast, func() time.Time { return time.Now().Add(time.Hour) })
		p, err := fast.Transfer(context.Background(), ledger.TransferInput{From: a, To: b, Amount: 1, Currency: money.CNY})
		if err != nil {
			t.Fatal(err)
		}
		stamp, limit := p.Transaction.CreatedAt, time.Now().Add(ledger.MaxClockLead+5*time.Second)
		if d == testenv.Postgres && stamp.After(limit) {
			t.Errorf("stamped %s, more than %s ahead of the database's clock", stamp, ledger.MaxClockLead)
		}
		if d == testenv.SQLite && stamp.Before(time.Now().Add(50*time.Minute)) {
			t.Errorf("stamped %s: SQLite takes the instance's clock", stamp)
		}
		mustVerify(t, e)
	})
}
