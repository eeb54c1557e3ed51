// Package ratelimit is a per-key token bucket, kept in process memory: each
// key may spend Burst tokens at once, refilled at Rate per second. With
// several instances each enforces its own budget.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter holds one bucket per key.
type Limiter struct {
	Rate  float64 // tokens per second
	Burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter; a zero or negative rate disables it (Allow always
// answers true).
func New(rate, burst float64) *Limiter {
	return &Limiter{Rate: rate, Burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow spends one token of key. When none is left it answers false and
// how long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil || l.Rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.Burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.Burst, b.tokens+now.Sub(b.at).Seconds()*l.Rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.Rate * float64(time.Second))
}

// forgetIdle drops buckets that have refilled completely, at most once a
// minute, so the map does not grow without bound.
func (l *Limiter) forgetIdle(now time.Time) {
	if now.Sub(l.sweep) < time.Minute {
		return
	}
	l.sweep = now
	full := time.Duration(l.Burst / l.Rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) > full {
			delete(l.buckets, k)
		}
	}
}
