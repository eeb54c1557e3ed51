package events

import (
	"strings"
	"sync"

	"danbao/ent"
)

// recentSize is how many events are kept in memory for followers (up to a
// quarter more between trims).
const recentSize = 4096

// recent holds the latest events, unfiltered and contiguous by seq: every
// seq in (floor, end] is present. It is read once per wake-up by the hub, so
// that a thousand followers do not each query the database for the same
// rows. The contiguity is what keeps the no-gap guarantee: seq follows
// commit order, so reading after end never passes over a late commit.
type recent struct {
	mu    sync.RWMutex
	ready bool
	floor int64        // the seq before the first held row
	rows  []*ent.Event // seq floor+1 ... floor+len(rows)
}

func (r *recent) reset(head int64) {
	r.mu.Lock()
	r.ready, r.floor, r.rows = true, head, nil
	r.mu.Unlock()
}

// drop forgets the window: after it no position is held until reset.
func (r *recent) drop() {
	r.mu.Lock()
	r.ready, r.floor, r.rows = false, 0, nil
	r.mu.Unlock()
}

// held reports whether the window holds a run (reset since the last drop).
func (r *recent) held() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.ready
}

func (r *recent) last() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.floor + int64(len(r.rows))
}

// add appends rows read after last(); rows that do not continue the run
// (cannot happen with a single reader) reset it.
func (r *recent) add(rows []*ent.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range rows {
		if e.Seq != r.floor+int64(len(r.rows))+1 {
			r.floor, r.rows = e.Seq-1, nil
		}
		r.rows = append(r.rows, e)
	}
	// Trimmed back to recentSize once a quarter over it: trimming at every
	// add copied the whole window each time.
	if over := len(r.rows) - recentSize; over > recentSize/4 {
		r.floor += int64(over)
		r.rows = append(make([]*ent.Event, 0, recentSize+recentSize/4+MaxRead), r.rows[over:]...)
	}
}

// after returns up to limit held events matching f with seq > pos, and
// whether the held run covers pos (otherwise the caller reads the
// database).
func (r *recent) after(pos int64, limit int, f Filter) ([]*ent.Event, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	end := r.floor + int64(len(r.rows))
	if !r.ready || pos < r.floor || pos > end {
		return nil, false
	}
	var out []*ent.Event
	for _, e := range r.rows[pos-r.floor:] {
		if f.matches(e) {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, true
}

// matches is the Go form of the filter's predicates.
func (f Filter) matches(e *ent.Event) bool {
	return (f.UserID == "" || e.UserID == f.UserID) &&
		(f.PartnerID == "" || e.PartnerID == f.PartnerID) &&
		(f.SubjectID == "" || e.SubjectID == f.SubjectID) &&
		(f.TypePrefix == "" || strings.HasPrefix(e.Type, f.TypePrefix))
}
