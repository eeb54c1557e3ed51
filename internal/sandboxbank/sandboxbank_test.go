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
