package sandboxbank

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/bank"
)

func TestTokenClasses(t *testing.T) {
	b := New([]byte("secret"), nil)
	ctx := context.Background()
	for number, want := range map[string]bank.Outcome{
		bank.SandboxCardSucceeds: bank.OutcomeSucceeded,
		bank.SandboxCardDeclined: bank.OutcomeDeclined,
		bank.SandboxCardPending:  bank.OutcomePending,
		"5555555555554444":       bank.OutcomeSucceeded,
	} {
		tok, err := b.Tokenize(ctx, number)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tok, number) || strings.Contains(tok, number[len(number)-4:]) {
			t.Errorf("token %q reveals the number", tok)
		}
		if got := OutcomeOf(tok); got != want {
			t.Errorf("OutcomeOf(Tokenize(%s)) = %s, want %s", number, got, want)
		}
	}
	if _, err := b.Tokenize(ctx, "4242424242424241"); !apperr.Is(err, apperr.InvalidInput) {
		t.Errorf("Tokenize(bad Luhn) = %v, want INVALID_INPUT", err)
	}
	if got := OutcomeOf("tok_other_x"); got != bank.OutcomeDeclined {
		t.Errorf("OutcomeOf(foreign token) = %s", got)
	}
}

// TestDeliversSignedCallbacks: outcomes reach the handler as signed
// callbacks carrying the request's amount and currency; a pending card
// waits for Settle, which refuses other cards.
func TestDeliversSignedCallbacks(t *testing.T) {
	b := New([]byte("secret"), nil)
	ctx := context.Background()
	var (
		mu  sync.Mutex
		got []bank.Callback
	)
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != bank.CallbackPath {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if err := b.Signer.Verify(r.Header.Get(bank.SignatureHeader), body, time.Now()); err != nil {
			t.Errorf("unsigned callback: %v", err)
		}
		var cb bank.Callback
		if err := json.Unmarshal(body, &cb); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, cb)
		mu.Unlock()
	}))
	ok, _ := b.Tokenize(ctx, bank.SandboxCardSucceeds)
	pending, _ := b.Tokenize(ctx, bank.SandboxCardPending)
	if err := b.Charge(ctx, bank.Request{Reference: "top_1", Token: ok, Amount: 1234, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	held := bank.Request{Reference: "wdr_1", Token: pending, Amount: 500, Currency: "CNY"}
	if err := b.Payout(ctx, held); err != nil {
		t.Fatal(err)
	}
	b.Drain()
	if len(got) != 1 || got[0].Reference != "top_1" || got[0].Kind != bank.KindCharge ||
		got[0].Outcome != bank.OutcomeSucceeded || got[0].Amount != 1234 || got[0].Currency != "CNY" {
		t.Fatalf("after charge and held payout: %+v", got)
	}
	if err := b.Settle(ctx, bank.KindPayout, bank.Request{Reference: "top_2", Token: ok, Amount: 1, Currency: "CNY"}, true); !apperr.Is(err, apperr.InvalidState) {
		t.Errorf("Settle(not held) = %v, want INVALID_STATE", err)
	}
	if err := b.Settle(ctx, bank.KindPayout, held, false); err != nil {
		t.Fatal(err)
	}
	b.Drain()
	if len(got) != 2 || got[1].Reference != "wdr_1" || got[1].Outcome != bank.OutcomeDeclined || got[1].Amount != 500 {
		t.Fatalf("after settle: %+v", got)
	}
}

// TestQueueIsBounded: while the server does not answer, the bank takes at
// most QueueSize callbacks besides those its Senders are posting, then
// refuses with RATE_LIMITED (retryAfterSeconds) and reports no room; once
// the server answers, every accepted callback is delivered.
func TestQueueIsBounded(t *testing.T) {
	b := New([]byte("secret"), nil)
	release := make(chan struct{})
	var mu sync.Mutex
	delivered, busy := 0, 0
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		busy++
		mu.Unlock()
		<-release
		mu.Lock()
		delivered++
		mu.Unlock()
	}))
	ctx := context.Background()
	ok, _ := b.Tokenize(ctx, bank.SandboxCardSucceeds)
	accepted := 0
	var err error
	for i := 0; i < QueueSize+Senders+10; i++ {
		if err = b.Charge(ctx, bank.Request{Reference: "top_x", Token: ok, Amount: 1, Currency: "CNY"}); err != nil {
			break
		}
		accepted++
	}
	ae, isApp := apperr.As(err)
	if !isApp || ae.Code != apperr.RateLimited || ae.Extensions["retryAfterSeconds"] == nil {
		t.Fatalf("charge on a full queue: %v", err)
	}
	// A sender may take its first job only after the refusal, making room
	// again: once every sender is held in the handler, fill what is left.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		n := busy
		mu.Unlock()
		if n >= Senders || time.Now().After(deadline) {
			break
		}
	}
	for b.Charge(ctx, bank.Request{Reference: "top_x", Token: ok, Amount: 1, Currency: "CNY"}) == nil {
		accepted++
	}
	if accepted < QueueSize || accepted > QueueSize+Senders {
		t.Fatalf("accepted %d callbacks, want between %d and %d", accepted, QueueSize, QueueSize+Senders)
	}
	if b.Room() != 0 || !apperr.Is(b.Busy(), apperr.RateLimited) {
		t.Fatalf("room %d on a full queue", b.Room())
	}
	close(release)
	b.Drain()
	if delivered != accepted {
		t.Fatalf("delivered %d of %d accepted callbacks", delivered, accepted)
	}
	if b.Room() != QueueSize {
		t.Fatalf("room %d after draining", b.Room())
	}
}

// TestCloseLeavesTheQueue: Close returns although the server never
// answers, abandoning the callbacks in flight and dropping the queued
// ones; afterwards the bank refuses new work.
func TestCloseLeavesTheQueue(t *testing.T) {
	b := New([]byte("secret"), nil)
	b.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a database that never answers
	}))
	ctx := context.Background()
	ok, _ := b.Tokenize(ctx, bank.SandboxCardSucceeds)
	for range 50 {
		if err := b.Charge(ctx, bank.Request{Reference: "top_x", Token: ok, Amount: 1, Currency: "CNY"}); err != nil {
			t.Fatal(err)
		}
	}
	dropped, err := b.Close(ctx)
	if err != nil || dropped < 50-Senders {
		t.Fatalf("Close: dropped %d, %v", dropped, err)
	}
	b.Drain() // nothing is left waiting
	if err := b.Charge(ctx, bank.Request{Reference: "top_y", Token: ok, Amount: 1, Currency: "CNY"}); !apperr.Is(err, apperr.RateLimited) || b.Room() != 0 {
		t.Fatalf("charge after Close: %v, room %d", err, b.Room())
	}
}
