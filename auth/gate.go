package auth

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"danbao/internal/apperr"
)

// HashGate bounds the argon2id computations running at once: each takes
// Memory KiB (19 MiB by default) and a core for tens of milliseconds, so
// without a bound a burst of sign-ins takes memory in proportion to the
// burst. A few callers more than the slots may wait, at most MaxWait;
// anyone beyond is refused at once with RATE_LIMITED.
type HashGate struct {
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
	wait    time.Duration
	peak    atomic.Int64
	running atomic.Int64
}

// Gate sizing: slots per usable CPU, waiters per slot, and how long a
// waiter waits.
const (
	HashWaitersPerSlot = 4
	HashMaxWait        = 2 * time.Second
)

// NewHashGate returns a gate of n slots (at least 1), with
// HashWaitersPerSlot waiters per slot.
func NewHashGate(n int) *HashGate {
	n = max(n, 1)
	return &HashGate{slots: make(chan struct{}, n), maxWait: int64(n * HashWaitersPerSlot), wait: HashMaxWait}
}

// MachineHashGate is a gate sized to the CPUs the process may use
// (GOMAXPROCS).
func MachineHashGate() *HashGate { return NewHashGate(runtime.GOMAXPROCS(0)) }

var errBusy = apperr.New(apperr.RateLimited, "the server is busy checking passwords; try again in a moment").
	With("retryAfterSeconds", 1)

// Do runs fn in a slot. Errors: RATE_LIMITED (retryAfterSeconds) when no
// slot frees in time or too many callers already wait; the context's error
// when it ends first.
func (g *HashGate) Do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.maxWait {
			g.waiting.Add(-1)
			return errBusy
		}
		t := time.NewTimer(g.wait)
		select {
		case g.slots <- struct{}{}:
			g.waiting.Add(-1)
			t.Stop()
		case <-t.C:
			g.waiting.Add(-1)
			return errBusy
		case <-ctx.Done():
			g.waiting.Add(-1)
			t.Stop()
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	fn()
	return nil
}

// Slots is how many hashes may run at once.
func (g *HashGate) Slots() int { return cap(g.slots) }

// Peak is the most hashes that ran at once since the gate was made.
func (g *HashGate) Peak() int { return int(g.peak.Load()) }
