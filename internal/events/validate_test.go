package events_test

import (
	"context"
	"strings"
	"testing"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/dbtx"
	"danbao/internal/events"
	"danbao/internal/testenv"
)

// TestFlushRunsEntsValidators: the flush writes events without ent on both
// engines, yet refuses what ent's validators refuse: a type longer than
// its 60 characters fails the transaction, which leaves no event and no
// sequence number taken, and a valid one commits.
func TestFlushRunsEntsValidators(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c := e.App.DB.Client
		u := e.Register(t)
		before, err := events.Head(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		appendOne := func(typ string) error {
			return dbtx.WithTx(ctx, c, func(tx *ent.Tx) error {
				_, err := events.Append(ctx, tx, events.Event{Type: typ, SubjectID: pulid.ID(u.ID), UserID: pulid.ID(u.ID), Payload: map[string]any{}})
				return err
			})
		}
		if err := appendOne(strings.Repeat("x", 61)); err == nil {
			t.Fatal("an event type of 61 characters was written")
		}
		if head, err := events.Head(ctx, c); err != nil || head != before {
			t.Fatalf("after the refused event the head is %d (%v), want %d", head, err, before)
		}
		if err := appendOne("review.valid"); err != nil {
			t.Fatal(err)
		}
		if head, err := events.Head(ctx, c); err != nil || head != before+1 {
			t.Fatalf("after a valid event the head is %d (%v), want %d", head, err, before+1)
		}
	})
}
