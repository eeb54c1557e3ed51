package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/event"
	"danbao/ent/schema/pulid"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// TestReviewFollowerChurn: while writers commit events (late committers
// among them), followers come and go one after the other, each from a
// cursor a little behind where the previous one stopped, with moments
// of no follower at all in between (the hub drops its window, then starts
// a new one at the head). Every follower gets exactly the committed
// events after its cursor, in seq order, without a gap or a duplicate,
// and a last follower from the start gets them all.
func TestReviewFollowerChurn(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := e.App.DB.Client
		const user = pulid.ID("usr_churn")
		start, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					hold := time.Duration(0)
					if (w+i)%5 == 0 {
						hold = 3 * time.Millisecond
					}
					if _, err := appendOne(ctx, c, user, "test.churn", hold); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		type run struct {
			after int64
			got   []int64
		}
		follow := func(after int64, until func(last int64) bool) run {
			r := run{after: after}
			fctx, fcancel := context.WithCancel(ctx)
			defer fcancel()
			_ = e.App.Events.Follow(fctx, after, events.Filter{UserID: user}, nil, func(ev *ent.Event) error {
				r.got = append(r.got, ev.Seq)
				if until(ev.Seq) {
					fcancel()
				}
				return nil
			})
			return r
		}
		var runs []run
		cursor := start
		for i := range 12 {
			n := 0
			r := follow(cursor, func(int64) bool { n++; return n >= 15 })
			runs = append(runs, r)
			if len(r.got) > 3 {
				cursor = r.got[len(r.got)-3] // a little behind where it stopped
			}
			if i%2 == 0 {
				time.Sleep(20 * time.Millisecond) // no follower: the hub drops its window
			}
		}
		close(stop)
		wg.Wait()
		head, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		truth, err := c.Event.Query().Where(event.UserID(user), event.SeqGT(start)).Order(ent.Asc(event.FieldSeq)).
			Select(event.FieldSeq).Ints(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := follow(start, func(s int64) bool { return s >= int64(truth[len(truth)-1]) })
		runs = append(runs, last)
		for i, r := range runs {
			var want []int64
			for _, s := range truth {
				if int64(s) > r.after && len(want) < len(r.got) {
					want = append(want, int64(s))
				}
			}
			if len(r.got) == 0 {
				t.Fatalf("follower %d from %d got nothing", i, r.after)
			}
			for j := range r.got {
				if r.got[j] != want[j] {
					t.Fatalf("follower %d from %d: event %d is seq %d, want %d (got %v)", i, r.after, j, r.got[j], want[j], r.got)
				}
			}
		}
		if len(last.got) != len(truth) {
			t.Fatalf("the last follower got %d events, %d committed", len(last.got), len(truth))
		}
		t.Logf("%d events up to seq %d, %d followers", len(truth), head, len(runs))
	})
}
