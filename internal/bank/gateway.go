package bank

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// CallbackPath is where gateways post their signed outcome notifications.
const CallbackPath = "/callbacks/bank"

// Operation kinds in callbacks.
const (
	KindCharge = "charge" // money in from a card (top-up)
	KindPayout = "payout" // money out to a card (withdrawal)
)

// Request asks the gateway to move money for one of our operations.
type Request struct {
	Reference string // our top-up or withdrawal ID
	Token     string // the card token from Tokenize
	Amount    int64  // minor units
	Currency  string
}

// Callback is the body of an outcome notification.
type Callback struct {
	ID        string  `json:"id"`        // the notification's own ID (the same on every retry)
	Kind      string  `json:"kind"`      // charge or payout
	Reference string  `json:"reference"` // our operation ID
	Outcome   Outcome `json:"outcome"`   // SUCCEEDED or DECLINED
	Reason    string  `json:"reason,omitempty"`
}

// Gateway is an acquirer. Charge and Payout only accept the request; the
// outcome arrives later as a signed Callback at CallbackPath.
type Gateway interface {
	// Tokenize validates a card number and returns the gateway's token for
	// it. The number itself is never stored by danbao.
	Tokenize(number string) (string, error)
	Charge(ctx context.Context, r Request) error
	Payout(ctx context.Context, r Request) error
}

// Sandbox is a Gateway that behaves like an acquirer's test mode (DESIGN
// section 10a): the outcome depends on the card, and is delivered
// asynchronously as a signed callback through the server's own HTTP handler,
// retried with backoff until it is answered with 2xx. Pending operations
// wait until Settle is called (by an operator).
type Sandbox struct {
	Signer  Signer
	handler http.Handler
	log     *slog.Logger
	wg      sync.WaitGroup
	mu      sync.Mutex
	senders chan struct{} // bounds deliveries in flight, as an acquirer's sender pool does
}

// MaxConcurrentDeliveries bounds the sandbox's callbacks in flight: an
// unbounded burst would only queue on the ledger's locks while holding
// database connections the API's reads need.
const MaxConcurrentDeliveries = 4

// NewSandbox returns a sandbox gateway signing with secret.
func NewSandbox(secret []byte, log *slog.Logger) *Sandbox {
	return &Sandbox{Signer: Signer{Secret: secret}, log: log, senders: make(chan struct{}, MaxConcurrentDeliveries)}
}

// SetHandler sets where callbacks are delivered (the server's handler).
func (s *Sandbox) SetHandler(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

const sandboxPrefix = "tok_sbx_"

// Tokenize returns a token that records the sandbox outcome class of the
// card and nothing else about it.
func (s *Sandbox) Tokenize(number string) (string, error) {
	n, err := ValidateCardNumber(number)
	if err != nil {
		return "", err
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return sandboxPrefix + strings.ToLower(string(SandboxOutcome(n))) + "_" + hex.EncodeToString(b[:]), nil
}

// OutcomeOf returns the sandbox outcome class of a token.
func OutcomeOf(token string) Outcome {
	rest, ok := strings.CutPrefix(token, sandboxPrefix)
	if !ok {
		return OutcomeDeclined
	}
	class, _, _ := strings.Cut(rest, "_")
	switch Outcome(strings.ToUpper(class)) {
	case OutcomeSucceeded:
		return OutcomeSucceeded
	case OutcomePending:
		return OutcomePending
	}
	return OutcomeDeclined
}

// Charge accepts a charge; its outcome follows as a callback.
func (s *Sandbox) Charge(ctx context.Context, r Request) error { return s.accept(KindCharge, r) }

// Payout accepts a payout; its outcome follows as a callback.
func (s *Sandbox) Payout(ctx context.Context, r Request) error { return s.accept(KindPayout, r) }

func (s *Sandbox) accept(kind string, r Request) error {
	switch OutcomeOf(r.Token) {
	case OutcomePending:
		return nil // waits for Settle
	case OutcomeSucceeded:
		s.Deliver(Callback{ID: newCallbackID(), Kind: kind, Reference: r.Reference, Outcome: OutcomeSucceeded})
	default:
		s.Deliver(Callback{ID: newCallbackID(), Kind: kind, Reference: r.Reference, Outcome: OutcomeDeclined, Reason: "card declined"})
	}
	return nil
}

// Settle delivers the outcome of a pending operation at once, as the
// acquirer would once its back office decides, and returns the HTTP status
// the callback handler answered (2xx: the outcome is applied).
func (s *Sandbox) Settle(kind, reference string, ok bool) int {
	cb := Callback{ID: newCallbackID(), Kind: kind, Reference: reference, Outcome: OutcomeSucceeded}
	if !ok {
		cb.Outcome, cb.Reason = OutcomeDeclined, "declined on review"
	}
	body, _ := json.Marshal(cb)
	return s.post(body)
}

// Deliver posts cb, signed, to the handler in the background, retrying
// with backoff (as acquirers do) while the answer is not 2xx.
func (s *Sandbox) Deliver(cb Callback) {
	body, _ := json.Marshal(cb)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.senders <- struct{}{}
		defer func() { <-s.senders }()
		delay := 20 * time.Millisecond
		for attempt := 1; attempt <= 6; attempt++ {
			code := s.post(body)
			if code >= 200 && code < 300 {
				return
			}
			if s.log != nil {
				s.log.Warn("sandbox bank: callback refused", "reference", cb.Reference, "status", code, "attempt", attempt)
			}
			if code == http.StatusConflict || code == http.StatusBadRequest || code == http.StatusNotFound {
				return // final answers: retrying cannot help
			}
			time.Sleep(delay)
			delay *= 3
		}
	}()
}

func (s *Sandbox) post(body []byte) int {
	s.mu.Lock()
	h := s.handler
	s.mu.Unlock()
	if h == nil {
		return http.StatusServiceUnavailable
	}
	req := httptest.NewRequest(http.MethodPost, CallbackPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, s.Signer.Header(time.Now(), body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Drain waits until every callback in flight has been delivered (tests,
// and graceful shutdown).
func (s *Sandbox) Drain() { s.wg.Wait() }

func newCallbackID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("cb_%x", b)
}
