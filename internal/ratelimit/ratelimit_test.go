package ratelimit

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	l := New(2, 3) // 2 per second, bursts of 3
	l.now = func() time.Time { return clock }
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("burst refused at %d", i)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th: %v %v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was limited")
	}
	clock = clock.Add(500 * time.Millisecond) // one token back
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refill did not happen")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("refilled more than the rate")
	}
	clock = clock.Add(time.Hour) // idle buckets are forgotten, and full again
	l.Allow("c")
	if _, kept := l.buckets["b"]; kept {
		t.Fatal("idle bucket kept")
	}
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a full bucket refused")
	}
}

func TestDisabled(t *testing.T) {
	l := New(0, 0)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}
