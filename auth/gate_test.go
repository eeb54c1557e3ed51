package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"danbao/internal/apperr"
)

// TestHashGateBoundsAndRefusesFast fills a one-slot gate and its waiting
// line: the next caller is refused with RATE_LIMITED and retryAfterSeconds
// without waiting, the waiters then run one at a time.
func TestHashGateBoundsAndRefusesFast(t *testing.T) {
	g := NewHashGate(1)
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = g.Do(context.Background(), func() { <-release })
	}()
	for g.running.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	errs := make(chan error, HashWaitersPerSlot)
	for i := 0; i < HashWaitersPerSlot; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- g.Do(context.Background(), func() {})
		}()
	}
	for g.waiting.Load() != HashWaitersPerSlot {
		time.Sleep(time.Millisecond)
	}
	err := g.Do(context.Background(), func() { t.Error("ran over capacity") })
	ae, ok := apperr.As(err)
	if !ok || ae.Code != apperr.RateLimited || ae.Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("over capacity: %v", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a waiter was refused: %v", err)
		}
	}
	if g.Peak() != 1 {
		t.Fatalf("peak %d hashes at once through a one-slot gate", g.Peak())
	}
}

// TestMachineHashGateSize: the gate has one slot per usable CPU.
func TestMachineHashGateSize(t *testing.T) {
	if n := MachineHashGate().Slots(); n < 1 || n > 1024 {
		t.Fatalf("%d slots", n)
	}
}
