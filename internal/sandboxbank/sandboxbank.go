package sandboxbank

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/bank"
)

// MaxConcurrentDeliveries bounds the callbacks in flight: an unbounded
// burst would only queue on the ledger's locks while holding database
// connections the API's reads need.
const MaxConcurrentDeliveries = 4

// maxAttempts and firstDelay shape the retry of an unanswered callback:
// 20 ms, 60 ms, 180 ms, ... between attempts.
const (
	maxAttempts = 6
	firstDelay  = 20 * time.Millisecond
)

// Bank is a bank.Gateway and bank.Settler that behaves like an acquirer's
// test mode. Build it with New and give it the server's handler with
// SetHandler before the first charge.
type Bank struct {
	// Signer signs every callback (the server verifies with the same
	// secret).
	Signer  bank.Signer
	log     *slog.Logger
	mu      sync.Mutex
	handler http.Handler
	wg      sync.WaitGroup
	senders chan struct{}
}

// New returns a sandbox bank signing its callbacks with secret.
func New(secret []byte, log *slog.Logger) *Bank {
	return &Bank{Signer: bank.Signer{Secret: secret}, log: log, senders: make(chan struct{}, MaxConcurrentDeliveries)}
}

// SetHandler sets the HTTP handler callbacks are posted to: the server's
// own, so that they pass its routing, metrics and signature check exactly
// as a real gateway's would.
func (b *Bank) SetHandler(h http.Handler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handler = h
}

const tokenPrefix = "tok_sbx_"

// Tokenize returns a token that records the sandbox outcome class of the
// card and nothing else about it. Errors: INVALID_INPUT (card number).
func (b *Bank) Tokenize(_ context.Context, number string) (string, error) {
	n, err := bank.ValidateCardNumber(number)
	if err != nil {
		return "", err
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	return tokenPrefix + strings.ToLower(string(bank.SandboxOutcome(n))) + "_" + hex.EncodeToString(r[:]), nil
}

// OutcomeOf returns the sandbox outcome class of a token made by Tokenize
// (DECLINED for any other token).
func OutcomeOf(token string) bank.Outcome {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return bank.OutcomeDeclined
	}
	class, _, _ := strings.Cut(rest, "_")
	switch o := bank.Outcome(strings.ToUpper(class)); o {
	case bank.OutcomeSucceeded, bank.OutcomePending:
		return o
	}
	return bank.OutcomeDeclined
}

// Holds reports whether operations on the card with this token wait for
// Settle (the pending card).
func (b *Bank) Holds(token string) bool { return OutcomeOf(token) == bank.OutcomePending }

// Charge accepts a charge; its outcome follows as a callback.
func (b *Bank) Charge(_ context.Context, r bank.Request) error { return b.accept(bank.KindCharge, r) }

// Payout accepts a payout; its outcome follows as a callback.
func (b *Bank) Payout(_ context.Context, r bank.Request) error { return b.accept(bank.KindPayout, r) }

func (b *Bank) accept(kind string, r bank.Request) error {
	switch OutcomeOf(r.Token) {
	case bank.OutcomePending:
		return nil // waits for Settle
	case bank.OutcomeSucceeded:
		b.Deliver(bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeSucceeded, ""))
	default:
		b.Deliver(bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeDeclined, "card declined"))
	}
	return nil
}

// Settle delivers the outcome of a held operation at once, as the acquirer
// would once its back office decides, and returns when the server has
// answered the callback: on success the outcome is applied. Errors:
// INVALID_STATE if r's card is not the pending card; any other error means
// the server did not accept the callback.
func (b *Bank) Settle(_ context.Context, kind string, r bank.Request, succeed bool) error {
	if !b.Holds(r.Token) {
		return apperr.New(apperr.InvalidState, "only operations on the sandbox pending card wait for an operator")
	}
	cb := bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeSucceeded, "")
	if !succeed {
		cb.Outcome, cb.Reason = bank.OutcomeDeclined, "declined on review"
	}
	body, _ := json.Marshal(cb)
	if code := b.post(body); code < 200 || code > 299 {
		return fmt.Errorf("sandboxbank: the callback for %s was answered %d", r.Reference, code)
	}
	return nil
}

// Deliver posts cb, signed, to the handler in the background, retrying
// with backoff (as acquirers do) while the answer is not 2xx and not final.
func (b *Bank) Deliver(cb bank.Callback) {
	body, _ := json.Marshal(cb)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.senders <- struct{}{}
		defer func() { <-b.senders }()
		delay := firstDelay
		for attempt := 1; attempt <= maxAttempts; attempt++ {
			code := b.post(body)
			if code >= 200 && code < 300 {
				return
			}
			if b.log != nil {
				b.log.Warn("sandbox bank: callback refused", "reference", cb.Reference, "status", code, "attempt", attempt)
			}
			if final(code) {
				return
			}
			time.Sleep(delay)
			delay *= 3
		}
	}()
}

// final reports whether a callback answer means retrying cannot help.
func final(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// post calls the handler directly with a signed request and returns the
// status it answered.
func (b *Bank) post(body []byte) int {
	b.mu.Lock()
	h := b.handler
	b.mu.Unlock()
	if h == nil {
		return http.StatusServiceUnavailable
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, bank.CallbackPath, bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(bank.SignatureHeader, b.Signer.Header(time.Now(), body))
	w := &statusWriter{header: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Drain waits until every callback in flight has been delivered (tests,
// and graceful shutdown).
func (b *Bank) Drain() { b.wg.Wait() }

func newCallbackID() string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("cb_%x", r)
}

// statusWriter is the http.ResponseWriter of a delivery: it keeps the
// status code and discards the body, as the bank only reads the status.
type statusWriter struct {
	header http.Header
	code   int
}

func (w *statusWriter) Header() http.Header { return w.header }

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
