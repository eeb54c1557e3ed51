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
	"sync/atomic"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/bank"
)

// Senders is the fixed number of goroutines posting callbacks: an
// unbounded burst would only queue on the ledger's locks while holding
// database connections the API's reads need.
const Senders = 4

// QueueSize bounds the callbacks waiting for a sender. When it is full the
// bank refuses new charges and payouts (Room is 0, see bank.Admitter), so
// settlement keeps up with acceptance or pushes back; a callback that finds
// it full anyway is dropped and its operation stays PENDING until the
// wallet's recovery asks again (wallet.Service.ResendPending).
const QueueSize = 1024

// maxAttempts and firstDelay shape the retry of an unanswered callback:
// 20 ms, 60 ms, 180 ms, ... between attempts.
const (
	maxAttempts = 6
	firstDelay  = 20 * time.Millisecond
)

// Bank is a bank.Gateway, bank.Settler and bank.Admitter that behaves like
// an acquirer's test mode. Build it with New, give it the server's handler
// with SetHandler before the first charge, and Close it on shutdown.
type Bank struct {
	// Signer signs every callback (the server verifies with the same
	// secret).
	Signer  bank.Signer
	log     *slog.Logger
	mu      sync.Mutex
	handler http.Handler
	closed  bool

	queue   chan delivery
	pending sync.WaitGroup // callbacks queued or being posted
	senders sync.WaitGroup
	stop    context.CancelFunc
	ctx     context.Context // ends with Close: in-flight posts are abandoned
	late    atomic.Int64    // callbacks a sender took from the queue after Close began: dropped too
}

// delivery is one queued callback.
type delivery struct {
	reference string
	body      []byte
}

// New returns a sandbox bank signing its callbacks with secret.
func New(secret []byte, log *slog.Logger) *Bank {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Bank{Signer: bank.Signer{Secret: secret}, log: log, queue: make(chan delivery, QueueSize), ctx: ctx, stop: stop}
	b.senders.Add(Senders)
	for range Senders {
		go b.send()
	}
	return b
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
		return b.Deliver(bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeSucceeded, ""))
	default:
		return b.Deliver(bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeDeclined, "card declined"))
	}
}

// Room reports how many more callbacks the queue takes now.
func (b *Bank) Room() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0
	}
	return cap(b.queue) - len(b.queue)
}

// Busy is the refusal of a new charge or payout while the queue is full
// (or the bank is closed): RATE_LIMITED with retryAfterSeconds.
func (b *Bank) Busy() error { return errBusy }

var errBusy = apperr.New(apperr.RateLimited, "the bank is settling a backlog of operations; try again shortly").
	With("retryAfterSeconds", 1)

// Settle delivers the outcome of a held operation at once, as the acquirer
// would once its back office decides, and returns when the server has
// answered the callback: on success the outcome is applied. Errors:
// INVALID_STATE if r's card is not the pending card; any other error means
// the server did not accept the callback.
func (b *Bank) Settle(ctx context.Context, kind string, r bank.Request, succeed bool) error {
	if !b.Holds(r.Token) {
		return apperr.New(apperr.InvalidState, "only operations on the sandbox pending card wait for an operator")
	}
	cb := bank.CallbackFor(newCallbackID(), kind, r, bank.OutcomeSucceeded, "")
	if !succeed {
		cb.Outcome, cb.Reason = bank.OutcomeDeclined, "declined on review"
	}
	body, _ := json.Marshal(cb)
	if code := b.post(ctx, body); code < 200 || code > 299 {
		return fmt.Errorf("sandboxbank: the callback for %s was answered %d", r.Reference, code)
	}
	return nil
}

// Deliver queues cb to be posted, signed, to the handler by one of the
// senders, retried with backoff (as acquirers do) while the answer is not
// 2xx and not final. Errors: RATE_LIMITED (Busy) when the queue is full or
// the bank is closed; the callback is then dropped, and its operation
// waits for the wallet's recovery to ask again.
func (b *Bank) Deliver(cb bank.Callback) error {
	body, _ := json.Marshal(cb)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errBusy
	}
	b.pending.Add(1)
	select {
	case b.queue <- delivery{reference: cb.Reference, body: body}:
		return nil
	default:
		b.pending.Done()
		b.log.Warn("sandbox bank: callback queue full, left for recovery", "reference", cb.Reference)
		return errBusy
	}
}

// send is one sender: it posts queued callbacks until Close.
func (b *Bank) send() {
	defer b.senders.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case d := <-b.queue:
			// select picks at random among ready cases: once Close has
			// begun, a callback taken here is dropped like the ones Close
			// takes, never posted.
			if b.ctx.Err() != nil {
				b.late.Add(1)
			} else {
				b.deliver(d)
			}
			b.pending.Done()
		}
	}
}

// deliver posts d until it is answered 2xx or finally refused, the
// attempts run out or the bank closes.
func (b *Bank) deliver(d delivery) {
	delay := firstDelay
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		code := b.post(b.ctx, d.body)
		if code >= 200 && code < 300 {
			return
		}
		if b.ctx.Err() != nil {
			return
		}
		b.log.Warn("sandbox bank: callback refused", "reference", d.reference, "status", code, "attempt", attempt)
		if final(code) {
			return
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 3
	}
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
func (b *Bank) post(ctx context.Context, body []byte) int {
	b.mu.Lock()
	h := b.handler
	b.mu.Unlock()
	if h == nil {
		return http.StatusServiceUnavailable
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bank.CallbackPath, bytes.NewReader(body))
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

// Drain waits until every queued callback has been delivered (tests).
func (b *Bank) Drain() { b.pending.Wait() }

// Close stops the bank within ctx, whatever is queued: it refuses new
// callbacks, abandons the ones in flight (their requests' contexts end)
// and drops the queued ones, which stay PENDING for the wallet's recovery
// after the restart. It returns how many queued callbacks it dropped, and
// ctx's error if the senders had not returned by then.
func (b *Bank) Close(ctx context.Context) (int, error) {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.stop()
	dropped := 0
	for {
		select {
		case <-b.queue:
			dropped++
			b.pending.Done()
			continue
		default:
		}
		break
	}
	done := make(chan struct{})
	go func() { b.senders.Wait(); close(done) }()
	select {
	case <-done:
		return dropped + int(b.late.Load()), nil
	case <-ctx.Done():
		return dropped + int(b.late.Load()), ctx.Err()
	}
}

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
