package events

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"danbao/ent"
	"danbao/ent/event"
	"danbao/ent/predicate"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
)

// Filter selects the events a reader sees. Zero fields select everything.
type Filter struct {
	UserID     pulid.ID // only events of this user
	PartnerID  pulid.ID // only events a partner app may see
	SubjectID  pulid.ID // only events about this subject (a payment, a top-up)
	TypePrefix string   // only types starting with this, e.g. "payment." or "balance.changed"
}

func (f Filter) predicates() []predicate.Event {
	var ps []predicate.Event
	if f.UserID != "" {
		ps = append(ps, event.UserID(f.UserID))
	}
	if f.PartnerID != "" {
		ps = append(ps, event.PartnerID(f.PartnerID))
	}
	if f.SubjectID != "" {
		ps = append(ps, event.SubjectID(f.SubjectID))
	}
	if f.TypePrefix != "" {
		ps = append(ps, event.TypeHasPrefix(f.TypePrefix))
	}
	return ps
}

// MaxRead bounds one ReadAfter page.
const MaxRead = 500

// ReadAfter returns up to limit events matching f whose seq is greater than
// after, in seq order. Because seq follows commit order, once a reader has
// seen seq n, every event with a smaller seq is already visible: following
// the last seq returned never passes over an event that commits later.
// Events are kept forever, so any cursor can be resumed.
func ReadAfter(ctx context.Context, client *ent.Client, after int64, limit int, f Filter) ([]*ent.Event, error) {
	if limit <= 0 || limit > MaxRead {
		limit = MaxRead
	}
	ps := append(f.predicates(), event.SeqGT(after))
	rows, err := client.Event.Query().Where(ps...).Order(ent.Asc(event.FieldSeq)).Limit(limit).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("events: read after %d: %w", after, err)
	}
	return rows, nil
}

// Head returns the highest committed seq (0 when there are none).
func Head(ctx context.Context, client *ent.Client) (int64, error) {
	c, err := client.Counter.Get(ctx, CounterID)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("events: head: %w", err)
	}
	return c.Value, nil
}

const cursorPrefix = "seq:"

// Cursor is the opaque cursor of the event with sequence seq; a reader
// resumes after it.
func Cursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

// Start is where a reader resumes: after the cursor after, or at the head
// when there is none. A cursor past the head (no event of this database
// has it: a database restored to an earlier state, or a cursor made up)
// is INVALID_INPUT: the reader would otherwise wait, silently, for its seq
// to come round again. Errors: INVALID_INPUT (on argument after).
func Start(ctx context.Context, client *ent.Client, after *string) (int64, error) {
	head, err := Head(ctx, client)
	if err != nil || after == nil {
		return head, err
	}
	seq, err := ParseCursor(*after)
	if err != nil {
		return 0, err
	}
	if seq > head {
		return 0, apperr.InvalidArgument("after", "this cursor is ahead of the event stream (its last event is older): no event has it")
	}
	return seq, nil
}

// ParseCursor decodes a Cursor; the empty string is the start of the
// stream (0). Errors: INVALID_INPUT.
func ParseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && strings.HasPrefix(string(b), cursorPrefix) {
		if n, err := strconv.ParseInt(string(b[len(cursorPrefix):]), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, apperr.InvalidArgument("after", "not a cursor this server issued")
}
