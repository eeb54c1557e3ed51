package events_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/internal/app"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// TestReviewQuietFollowerStaysInTheWindow: a follower whose filter matches
// none of the events being committed (a user or partner waiting for their
// own, rare, events: almost every subscriber) must be served from the
// hub's in-memory window, not query the database on every wake-up. Its
// position used to move only to the events it was given, so once the
// window's floor passed it (at once, when the window starts at the head
// after the follower subscribed; later, after a trim) every commit made it
// read the outbox: N idle subscribers, N queries per commit.
func TestReviewQuietFollowerStaysInTheWindow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		var reads atomic.Int64
		e := testenv.New(t, d, testenv.WithOptions(func(o *app.Options) {
			o.Trace = func(_ context.Context, s string) {
				s = strings.ReplaceAll(s, "`", `"`)
				// The follower's own read: filtered by its user.
				if strings.Contains(s, `FROM "events"`) && strings.Contains(s, `"events"."user_id" =`) {
					reads.Add(1)
				}
			}
		}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := e.App.DB.Client
		head, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		go e.App.Events.Follow(ctx, head, events.Filter{UserID: "usr_quiet"}, nil, func(*ent.Event) error { return nil })
		time.Sleep(50 * time.Millisecond)
		// Other users' events, more than the window holds: it trims past
		// the follower's position.
		if err := dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
			for range 6000 {
				if _, err := events.Append(ctx, tx, events.Event{Type: "test.busy", SubjectID: "usr_busy", UserID: "usr_busy"}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		reads.Store(0)
		const commits = 40
		for range commits {
			if _, err := appendOne(ctx, c, "usr_busy", "test.busy", 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(15 * time.Millisecond) // past the hub's refresh gap: one wake-up each
		}
		time.Sleep(50 * time.Millisecond)
		t.Logf("follower reads: %d", reads.Load())
		if n := reads.Load(); n > commits/4 {
			t.Fatalf("a follower none of whose events committed read the outbox %d times for %d commits", n, commits)
		}
	})
}
