package events_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/counter"
	"danbao/ent/event"
	"danbao/ent/schema/pulid"
	"danbao/internal/app"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// appendOne writes one event in its own transaction, holding the
// transaction open for hold after taking its seq (a late committer).
func appendOne(ctx context.Context, c *ent.Client, user pulid.ID, typ string, hold time.Duration) (int64, error) {
	var row *ent.Event
	err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
		var err error
		row, err = events.Append(ctx, tx, events.Event{Type: typ, SubjectID: user, UserID: user})
		time.Sleep(hold)
		return err
	})
	if err != nil {
		return 0, err
	}
	return row.Seq, nil // numbered at the commit
}

// TestFollowerNeverPassesALateCommit: writers hold their transactions open
// for random times after taking a seq while a reader follows the outbox by
// cursor as fast as it can; the reader must end with every event exactly
// once, in seq order. If seq did not follow commit order, the reader would
// pass over a seq that committed after a larger one.
func TestFollowerNeverPassesALateCommit(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c := e.App.DB.Client
		const writers, each = 8, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					hold := time.Duration(rand.IntN(8)) * time.Millisecond
					if _, err := appendOne(ctx, c, pulid.ID(fmt.Sprintf("usr_w%d", w)), "test.late", hold); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		var got []int64
		var pos int64
		for finished := false; ; {
			select {
			case <-done:
				finished = true
			default:
			}
			rows, err := events.ReadAfter(ctx, c, pos, 7, events.Filter{TypePrefix: "test."})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				got = append(got, r.Seq)
				pos = r.Seq
			}
			if finished && len(rows) == 0 {
				break
			}
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(got) != writers*each {
			t.Fatalf("the follower saw %d events of %d: it passed over late commits", len(got), writers*each)
		}
		for i := 1; i < len(got); i++ {
			if got[i] != got[i-1]+1 {
				t.Fatalf("seq %d follows %d", got[i], got[i-1])
			}
		}
	})
}

// TestFollowReplaysThenStreamsWithoutGapOrDuplicate starts a follower at a
// cursor in the middle of existing events while writers keep appending:
// it receives exactly the events after the cursor, in order, once each.
func TestFollowReplaysThenStreamsWithoutGapOrDuplicate(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := e.App.DB.Client
		me, other := pulid.ID("usr_me"), pulid.ID("usr_other")
		var mine []int64
		for i := range 6 {
			u := me
			if i%3 == 2 {
				u = other
			}
			seq, err := appendOne(ctx, c, u, "test.replay", 0)
			if err != nil {
				t.Fatal(err)
			}
			if u == me {
				mine = append(mine, seq)
			}
		}
		start := mine[1] // resume after my second event
		want := append([]int64(nil), mine[2:]...)
		got := make(chan int64, 100)
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go e.App.Events.Follow(fctx, start, events.Filter{UserID: me}, nil, func(ev *ent.Event) error {
			got <- ev.Seq
			return nil
		})
		// Live writes race with the replay.
		for i := range 10 {
			u := me
			if i%2 == 1 {
				u = other
			}
			seq, err := appendOne(ctx, c, u, "test.live", time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if u == me {
				want = append(want, seq)
			}
		}
		for i, w := range want {
			select {
			case s := <-got:
				if s != w {
					t.Fatalf("event %d: seq %d, want %d (all wanted %v)", i, s, w, want)
				}
			case <-ctx.Done():
				t.Fatalf("event %d (seq %d) never arrived", i, w)
			}
		}
		select {
		case s := <-got:
			t.Fatalf("unexpected extra event seq %d", s)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// TestWakeUpCrossesInstances: two instances on one PostgreSQL database,
// polling switched (almost) off; an event committed through one wakes a
// follower on the other within a second, by LISTEN/NOTIFY.
func TestWakeUpCrossesInstances(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	slow := testenv.With("DANBAO_EVENTS_POLL_INTERVAL", "1h")
	a := testenv.New(t, testenv.Postgres, testenv.With("DATABASE_URL", url), slow)
	b := testenv.New(t, testenv.Postgres, testenv.With("DATABASE_URL", url), slow)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	head, err := events.Head(ctx, b.App.DB.Client)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *ent.Event, 1)
	go b.App.Events.Follow(ctx, head, events.Filter{TypePrefix: "test."}, nil, func(ev *ent.Event) error {
		got <- ev
		return nil
	})
	// Let the follower read the (empty) replay and wait, and the listener connect.
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	seq, err := appendOne(ctx, a.App.DB.Client, "usr_x", "test.cross", 0)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Seq != seq {
			t.Fatalf("got seq %d, want %d", ev.Seq, seq)
		}
		if lat := time.Since(start); lat > time.Second {
			t.Fatalf("took %v", lat)
		}
		t.Logf("cross-instance delivery in %v", time.Since(start))
	case <-time.After(3 * time.Second):
		t.Fatal("the other instance was not woken")
	}
}

func TestCursorRoundTripAndRefusal(t *testing.T) {
	for _, n := range []int64{0, 1, 1 << 40} {
		if got, err := events.ParseCursor(events.Cursor(n)); err != nil || got != n {
			t.Fatalf("%d: %d %v", n, got, err)
		}
	}
	for _, bad := range []string{"x", "c2VxOi0x" /* seq:-1 */, "bm9wZTox" /* nope:1 */} {
		if _, err := events.ParseCursor(bad); !apperr.Is(err, apperr.InvalidInput) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

// TestPaymentFilterAuthorizes: a user follows the rows written for them, a
// partner the rows marked with its id; another's payment is NOT_FOUND.
func TestPaymentFilterAuthorizes(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	c := e.App.DB.Client
	payer, payee, stranger := pulid.ID("usr_payer"), pulid.ID("usr_payee"), pulid.ID("usr_stranger")
	partnerApp, otherPartner := pulid.ID("pra_a"), pulid.ID("pra_b")
	pay, otherPay := pulid.ID("pay_1"), pulid.ID("pay_2")
	write := func(subject pulid.ID, typ string, partner pulid.ID, users ...pulid.ID) {
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			for i, u := range users {
				ev := events.Event{Type: typ, SubjectID: subject, UserID: u}
				if i == 0 {
					ev.PartnerID = partner // once per transition
				}
				if _, err := events.Append(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(pay, "payment.created", partnerApp, payer, payee)
	write(pay, "payment.paid", partnerApp, payer, payee)
	write(otherPay, "payment.created", otherPartner, stranger, payee)
	write(payer, "balance.changed", "", payer)
	count := func(v events.Viewer, p pulid.ID) int {
		rows, err := events.ReadAfter(ctx, c, 0, 100, events.PaymentFilter(v, p))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Type[:8] != "payment." || (p != "" && r.SubjectID != p) {
				t.Fatalf("leaked %s about %s", r.Type, r.SubjectID)
			}
		}
		return len(rows)
	}
	for name, tc := range map[string]struct {
		v       events.Viewer
		payment pulid.ID
		want    int
	}{
		"payer, all":         {events.Viewer{UserID: payer}, "", 2},
		"payee, all":         {events.Viewer{UserID: payee}, "", 3},
		"payee, one payment": {events.Viewer{UserID: payee}, pay, 2},
		"stranger, pay":      {events.Viewer{UserID: stranger}, pay, 0},
		"partner, all":       {events.Viewer{PartnerID: partnerApp}, "", 2},
		"other partner, pay": {events.Viewer{PartnerID: otherPartner}, pay, 0},
		"other partner, all": {events.Viewer{PartnerID: otherPartner}, "", 1},
	} {
		if got := count(tc.v, tc.payment); got != tc.want {
			t.Errorf("%s: %d events, want %d", name, got, tc.want)
		}
	}
	if err := events.CheckVisible(ctx, c, events.PaymentFilter(events.Viewer{UserID: stranger}, pay)); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("stranger: %v", err)
	}
	if err := events.CheckVisible(ctx, c, events.PaymentFilter(events.Viewer{PartnerID: partnerApp}, pay)); err != nil {
		t.Fatalf("partner: %v", err)
	}
}

// TestHubReadsOnlyForFollowers: while an instance has no follower, commits
// do not make its hub read the outbox; a follower that arrives afterwards
// still gets every event from its cursor, then the live ones, once each.
func TestHubReadsOnlyForFollowers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		var reads atomic.Int64
		e := testenv.New(t, d, testenv.WithOptions(func(o *app.Options) {
			o.Trace = func(_ context.Context, s string) {
				// The hub's read is the only one with no filter but seq.
				s = strings.ReplaceAll(s, "`", `"`)
				if strings.Contains(s, `FROM "events" WHERE "events"."seq" >`) {
					reads.Add(1)
				}
			}
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := e.App.DB.Client
		start, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for range 20 {
			seq, err := appendOne(ctx, c, "usr_idle", "test.idle", 0)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, seq)
		}
		time.Sleep(100 * time.Millisecond) // well past the hub's refresh gap
		if n := reads.Load(); n != 0 {
			t.Fatalf("the hub read the outbox %d times with no follower", n)
		}
		got := make(chan int64, 100)
		go e.App.Events.Follow(ctx, start, events.Filter{TypePrefix: "test."}, nil, func(ev *ent.Event) error {
			got <- ev.Seq
			return nil
		})
		for range 5 {
			seq, err := appendOne(ctx, c, "usr_idle", "test.live", time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, seq)
		}
		for i, w := range want {
			select {
			case s := <-got:
				if s != w {
					t.Fatalf("event %d: seq %d, want %d", i, s, w)
				}
			case <-ctx.Done():
				t.Fatalf("event %d (seq %d) never arrived", i, w)
			}
		}
		select {
		case s := <-got:
			t.Fatalf("unexpected extra event seq %d", s)
		case <-time.After(200 * time.Millisecond):
		}
		if reads.Load() == 0 {
			t.Fatal("the hub never read the live events for its follower")
		}
	})
}

// TestAppendWithoutCounterCommitsNothing: with the events counter row
// gone, a transaction that appends an event fails and leaves nothing of
// its own, on both engines (on PostgreSQL the outbox's statement goes
// with the COMMIT, so it must fail by itself rather than return no row).
func TestAppendWithoutCounterCommitsNothing(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c := e.App.DB.Client
		if _, err := c.Counter.Delete().Where(counter.ID(events.CounterID)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			if err := tx.Counter.Create().SetID("witness").SetValue(1).Exec(ctx); err != nil {
				return err
			}
			_, err := events.Append(ctx, tx, events.Event{Type: "test.orphan", SubjectID: "usr_x", UserID: "usr_x"})
			return err
		})
		if err == nil {
			t.Fatal("an event was appended without its counter")
		}
		if n, err := c.Counter.Query().Where(counter.ID("witness")).Count(ctx); err != nil || n != 0 {
			t.Fatalf("the failed transaction left its row (%d, %v)", n, err)
		}
		if n, err := c.Event.Query().Where(event.Type("test.orphan")).Count(ctx); err != nil || n != 0 {
			t.Fatalf("%d orphan events (%v)", n, err)
		}
	})
}
