package events

import (
	"context"

	"danbao/ent"
)

// Follow calls fn with every event matching f whose seq is greater than
// after, in seq order: first those already committed (the replay), then
// each new one as it commits (live), until ctx ends or fn returns an error,
// which Follow returns. It subscribes to wake-ups before the first read, so
// an event committed during the replay still wakes it, and it always
// continues from the last seq it passed on: there is neither a gap nor a
// duplicate between replay and live. allow, when not nil, decides per event
// whether fn sees it (authorization); refused events still advance the
// position.
func (h *Hub) Follow(ctx context.Context, after int64, f Filter, allow func(*ent.Event) bool, fn func(*ent.Event) error) error {
	w := h.subscribe(true)
	defer h.Unsubscribe(w)
	pos := after
	for {
		// Every seq up to the window's end has committed (it was read from
		// the outbox), so a read after this point that returns less than a
		// full page has passed every event up to it: the position moves
		// there even when none of them matched f, or a follower whose
		// events are rare would fall behind the window's floor and query
		// the database on every wake-up.
		end := h.recent.last()
		rows, held := h.recent.after(pos, MaxRead, f)
		if !held {
			var err error
			if rows, err = ReadAfter(ctx, h.client, pos, MaxRead, f); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
		for _, e := range rows {
			pos = e.Seq
			if allow != nil && !allow(e) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(rows) == MaxRead {
			continue // more to replay
		}
		pos = max(pos, end)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.C:
		}
	}
}

// Stream runs Follow in a goroutine and returns its events converted by
// conv on a channel, closed when ctx ends or reading fails (a failure is
// logged). It is the shape GraphQL subscriptions need.
func Stream[T any](ctx context.Context, h *Hub, after int64, f Filter, allow func(*ent.Event) bool, conv func(*ent.Event) T) <-chan T {
	return StreamLoad(ctx, h, after, f, allow, func(_ context.Context, e *ent.Event) (T, bool, error) { return conv(e), true, nil })
}

// StreamLoad is Stream with a conversion that may read (load) and may fail:
// an error stops the stream (logged, channel closed); false skips the event.
func StreamLoad[T any](ctx context.Context, h *Hub, after int64, f Filter, allow func(*ent.Event) bool, load func(context.Context, *ent.Event) (T, bool, error)) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		err := h.Follow(ctx, after, f, allow, func(e *ent.Event) error {
			v, ok, err := load(ctx, e)
			if err != nil || !ok {
				return err
			}
			select {
			case out <- v:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil {
			h.cfg.Logger.ErrorContext(ctx, "events: a subscription stopped", "error", err)
		}
	}()
	return out
}
