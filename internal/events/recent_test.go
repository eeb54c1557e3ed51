package events

import (
	"testing"

	"danbao/ent"
	"danbao/ent/schema/pulid"
)

// TestRecentCoversOnlyItsContiguousRun: followers are served from memory
// only for positions inside the held run; anything before it (trimmed) or
// beyond it goes to the database, so the in-memory path can never skip an
// event.
func TestRecentCoversOnlyItsContiguousRun(t *testing.T) {
	var r recent
	if _, ok := r.after(0, 10, Filter{}); ok {
		t.Fatal("served before the first read")
	}
	r.reset(10)
	mk := func(from, to int64) []*ent.Event {
		var out []*ent.Event
		for s := from; s <= to; s++ {
			u := pulid.ID("usr_a")
			if s%2 == 0 {
				u = "usr_b"
			}
			out = append(out, &ent.Event{Seq: s, UserID: u, Type: "balance.changed"})
		}
		return out
	}
	r.add(mk(11, 20))
	if rows, ok := r.after(10, 100, Filter{}); !ok || len(rows) != 10 || rows[0].Seq != 11 {
		t.Fatalf("from the floor: %v %d", ok, len(rows))
	}
	if rows, ok := r.after(14, 100, Filter{UserID: "usr_a"}); !ok || len(rows) != 3 || rows[0].Seq != 15 {
		t.Fatalf("filtered: %v %v", ok, rows)
	}
	if rows, ok := r.after(20, 100, Filter{}); !ok || len(rows) != 0 {
		t.Fatal("at the end: covered and empty")
	}
	if _, ok := r.after(9, 100, Filter{}); ok {
		t.Fatal("before the floor must go to the database")
	}
	if _, ok := r.after(21, 100, Filter{}); ok {
		t.Fatal("beyond the end must go to the database")
	}
	r.add(mk(21, 20+recentSize))
	if _, ok := r.after(15, 100, Filter{}); !ok {
		t.Fatal("up to a quarter over the size, nothing is trimmed")
	}
	end := int64(20 + recentSize + recentSize/4 + 1)
	r.add(mk(21+recentSize, end))
	if _, ok := r.after(15, 100, Filter{}); ok {
		t.Fatal("trimmed positions must go to the database")
	}
	if r.last() != end || len(r.rows) != recentSize {
		t.Fatalf("last %d, %d held", r.last(), len(r.rows))
	}
	if rows, ok := r.after(end-recentSize, 1, Filter{}); !ok || rows[0].Seq != end-recentSize+1 {
		t.Fatal("the last recentSize events stay covered")
	}
}
