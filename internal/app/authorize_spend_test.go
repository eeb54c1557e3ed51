package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/escrow"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
	"danbao/internal/wallet"
)

// authorizePayment verifies the assertion outside any transaction and
// spends its challenge in the money's (found in review of 844b28b: a
// retry's failure must not spend the challenge its twin is about to
// spend, and one passkey may authorize two payments at once).

// holdGate takes e's only writer slot (DANBAO_DB_WRITERS=1) until the
// returned release is called: a transaction WithTx begins on e meanwhile
// waits before its BEGIN (at most 10 s), i.e. an authorizePayment on e
// stops after VerifyPayment and before its money transaction.
func holdGate(t *testing.T, e *escrowEnv) (release func()) {
	t.Helper()
	held, done, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = dbtx.WithTx(context.Background(), e.App.DB.Client, func(*ent.Tx) error {
			close(held)
			<-stop
			return nil
		})
	}()
	<-held
	var once bool
	release = func() {
		if !once {
			once = true
			close(stop)
			<-done
		}
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n goroutines whose stack contains caller are
// queued for a writer slot (blocked in dbtx's gate), 10 s at most: the
// point a fixed sleep only hoped to reach on a slow machine.
func waitQueued(t *testing.T, caller string, n int) {
	t.Helper()
	buf := make([]byte, 1<<22)
	for range 400 {
		got := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "danbao/internal/dbtx.enter(") && strings.Contains(g, caller) {
				got++
			}
		}
		if got >= n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("never %d of %s queued for a writer slot", n, caller)
}

// queuedThenCancelled fails the test when err is not the cancellation of
// a request queued for its writer slot ("begin: context canceled"): a
// request cancelled earlier (before or in VerifyPayment) exercises
// nothing, and the test would pass whatever the code does.
func queuedThenCancelled(t *testing.T, err error) {
	t.Helper()
	if err == nil || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "begin:") {
		t.Fatalf("scenario not reached: the retry was not cancelled while queued for its writer slot: %v", err)
	}
}

// signedPayment creates a payment of 1.00 from b to seller on e (key:
// its idempotency key) and signs its passkey challenge with b's
// authenticator: the payment and the assertion that authorizes it.
func signedPayment(t *testing.T, e *escrowEnv, b buyer, seller *testenv.User, key string) (result, json.RawMessage) {
	t.Helper()
	c := e.create(t, b, seller, "1.00", key)
	if c.code() != "" {
		t.Fatalf("createPayment: %+v", c)
	}
	cred, err := b.auth.Assert(c.Options, softauthn.AssertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c, cred
}

type authOutcome struct {
	p      *ent.Payment
	replay bool
	err    error
}

func (o authOutcome) code() string {
	if o.err == nil {
		return ""
	}
	if c := apperr.CodeOf(o.err); c != "" {
		return string(c)
	}
	return o.err.Error()
}

func authorizeDirect(ctx context.Context, e *escrowEnv, b buyer, paymentID string, cred json.RawMessage, key string) authOutcome {
	p, replay, err := e.App.Escrow.AuthorizePayment(ctx, escrow.Caller{UserID: pulid.ID(b.User.ID)},
		escrow.AuthorizePaymentInput{PaymentID: pulid.ID(paymentID), Credential: cred, IdempotencyKey: key})
	return authOutcome{p, replay, err}
}

// twoInstances is two instances on one PostgreSQL database behind one
// origin (as behind one load balancer), with extra options, and a funded
// buyer whose passkey both accept.
func twoInstances(t *testing.T, extra ...testenv.Option) (a, other *escrowEnv, b buyer, seller *testenv.User) {
	t.Helper()
	url := testenv.DatabaseURL(t, testenv.Postgres)
	const origin = "https://wallet.example"
	opts := append(append(sharedKeys(), testenv.With("DATABASE_URL", url), sharedTokenKey(t),
		testenv.With("DANBAO_WEBAUTHN_ORIGINS", origin)), extra...)
	a = newEscrowEnv(t, testenv.Postgres, opts...)
	other = newEscrowEnv(t, testenv.Postgres, opts...)
	u, _ := funded(t, a.Env, "100.00")
	b = buyer{User: u, auth: softauthn.New()}
	b.auth.Origin = origin
	a.AddPasskey(t, u, b.auth)
	seller = a.RegisterVerified(t)
	return a, other, b, seller
}

// TestCancelledRetryLeavesItsTwinAlone (PostgreSQL, two
// instances): a client sends authorizePayment to instance A, which is
// slow (queued for a writer slot after verifying the assertion); the
// client retries the same request (same assertion, same key) on B and
// gives up on the retry too (B's context is cancelled while B waits for
// its own slot). B never held the key, so its failure leaves the
// challenge to A, which pays.
func TestCancelledRetryLeavesItsTwinAlone(t *testing.T) {
	a, other, b, seller := twoInstances(t, testenv.With("DANBAO_DB_WRITERS", "1"))
	c, cred := signedPayment(t, a, b, seller, "cancelled-retry-create")
	key := "cancelled-retry-" + c.Payment.ID

	releaseA := holdGate(t, a)
	first := make(chan authOutcome, 1)
	go func() { first <- authorizeDirect(context.Background(), a, b, c.Payment.ID, cred, key) }()
	waitQueued(t, "escrow.(*Service).AuthorizePayment", 1) // A has verified and waits for its slot

	releaseB := holdGate(t, other)
	ctx, cancel := context.WithCancel(context.Background())
	retry := make(chan authOutcome, 1)
	go func() { retry <- authorizeDirect(ctx, other, b, c.Payment.ID, cred, key) }()
	waitQueued(t, "escrow.(*Service).AuthorizePayment", 2) // B has verified and waits for its slot
	cancel()                                               // the client gives up on the retry
	releaseB()                                             // (so that B's discard does not wait 10 s for the slot)
	r := <-retry
	t.Logf("retry (B, cancelled): %s", r.code())
	queuedThenCancelled(t, r.err)

	releaseA()
	f := <-first
	t.Logf("first (A): %s", f.code())
	st := a.payment(t, b.User, c.Payment.ID).Status
	t.Logf("payment: %s", st)
	if f.err != nil || st != "PAID" {
		t.Errorf("the first request, verified and only queued, failed with %s because its cancelled retry discarded the challenge (payment %s)", f.code(), st)
	}
}

// TestExpiredRetryLeavesItsTwinAlone (PostgreSQL, two instances):
// A verifies the assertion just before the challenge expires and queues
// for a writer slot; the client's retry (same assertion, same key) reaches
// B just after the expiry. B's refusal (CHALLENGE_EXPIRED) leaves the
// session to the sweep, so A, verified in time, pays: the two requests
// never both fail.
func TestExpiredRetryLeavesItsTwinAlone(t *testing.T) {
	a, other, b, seller := twoInstances(t, testenv.With("DANBAO_DB_WRITERS", "1"))
	c, cred := signedPayment(t, a, b, seller, "expired-twin-create")
	key := "expired-twin-" + c.Payment.ID
	a.clock.Advance(5*time.Minute - 2*time.Second) // the default 5 min timeout, nearly over
	releaseA := holdGate(t, a)
	first := make(chan authOutcome, 1)
	go func() { first <- authorizeDirect(context.Background(), a, b, c.Payment.ID, cred, key) }()
	waitQueued(t, "escrow.(*Service).AuthorizePayment", 1) // A has verified in time and waits for its slot

	other.clock.Advance(5*time.Minute + 2*time.Second) // B's clock: just expired
	r := authorizeDirect(context.Background(), other, b, c.Payment.ID, cred, key)
	t.Logf("retry (B): %s", r.code())
	releaseA()
	f := <-first
	st := a.payment(t, b.User, c.Payment.ID).Status
	t.Logf("first (A): %s; payment %s", f.code(), st)
	if f.err != nil && r.err != nil {
		t.Errorf("both requests failed (A %s, B %s): the retry's refusal of the expired challenge spent the one its twin had verified in time", f.code(), r.code())
	}
}

// TestKeyMismatchSpendsTheAssertion (both engines): an
// authorization refused IDEMPOTENCY_CONFLICT because its key was used for
// another payment (INPUT_MISMATCH, no twin holding it) spends its
// verified challenge, like any failed authorization: the same assertion
// is refused later under another key.
func TestKeyMismatchSpendsTheAssertion(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "100.00")
		seller := e.RegisterVerified(t)
		p1 := e.create(t, b, seller, "1.00", "mismatch-create-1")
		if r := e.authorize(t, b, p1.Payment.ID, p1.Options, "shared-key"); r.code() != "" {
			t.Fatalf("first authorization: %+v", r)
		}
		p2 := e.create(t, b, seller, "2.00", "mismatch-create-2")
		cred, err := b.auth.Assert(p2.Options, softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := e.authorizeWith(t, b, p2.Payment.ID, cred, "shared-key")
		if r.code() != "IDEMPOTENCY_CONFLICT" {
			t.Fatalf("reused key: %+v, want IDEMPOTENCY_CONFLICT", r)
		}
		again := e.authorizeWith(t, b, p2.Payment.ID, cred, "fresh-key")
		if again.code() == "" {
			t.Errorf("the assertion of a refused authorization was accepted again (payment %s)", again.Payment.Status)
		}
	})
}

// TestConcurrentPaymentsOneCounterPasskey (PostgreSQL): two payments
// of one buyer authorized at about the same time with one passkey whose
// counter advances (a security key). A's counter update is uncommitted
// for A's whole money transaction, and B was verified meanwhile against
// the old counter: B's write only needs its counter to advance past the
// stored one, so both pay. A's money transaction is held on the payment
// row (an outside FOR UPDATE) to make the overlap certain.
func TestConcurrentPaymentsOneCounterPasskey(t *testing.T) {
	_, _, f, s := overlappingAuthorizations(t, "counter", nil)
	t.Logf("A: %s, B: %s", f.code(), s.code())
	if f.err != nil || s.err != nil {
		t.Errorf("two payments authorized with one passkey in turn: A %s, B %s", f.code(), s.code())
	}
}

// overlappingAuthorizations authorizes two payments of one buyer
// (PostgreSQL) with assertions of one passkey, signed with counter count
// (nil: the authenticator's own, advancing), so that they overlap: A's
// money transaction is held on its payment row (an outside FOR UPDATE)
// after spending its challenge, and B is verified meanwhile, then waits
// for A's passkey row. Returns the environment, the buyer and both
// outcomes.
func overlappingAuthorizations(t *testing.T, name string, count *uint32) (*escrowEnv, buyer, authOutcome, authOutcome) {
	t.Helper()
	url := testenv.DatabaseURL(t, testenv.Postgres)
	e := newEscrowEnv(t, testenv.Postgres, testenv.With("DATABASE_URL", url))
	b := e.buyer(t, "100.00")
	seller := e.RegisterVerified(t)
	p1 := e.create(t, b, seller, "1.00", name+"-create-1")
	p2 := e.create(t, b, seller, "1.00", name+"-create-2")
	cred1, err := b.auth.Assert(p1.Options, softauthn.AssertOptions{SignCount: count})
	if err != nil {
		t.Fatal(err)
	}
	cred2, err := b.auth.Assert(p2.Options, softauthn.AssertOptions{SignCount: count})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lock, err := e.App.DB.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `SELECT 1 FROM payments WHERE id = $1 FOR UPDATE`, p1.Payment.ID); err != nil {
		t.Fatal(err)
	}
	first := make(chan authOutcome, 1)
	go func() { first <- authorizeDirect(ctx, e, b, p1.Payment.ID, cred1, name+"-1") }()
	waitLocks(t, e, 1) // A: challenge spent, counter written, waits on the payment row
	second := make(chan authOutcome, 1)
	go func() { second <- authorizeDirect(ctx, e, b, p2.Payment.ID, cred2, name+"-2") }()
	waitLocks(t, e, 2) // B: verified against the old counter, waits on the passkey row
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	return e, b, <-first, <-second
}

// TestReplayedAssertionManyKeysTwoInstances (PostgreSQL): one assertion
// presented at once under 8 different keys, alternately to two
// instances: the payment is authorized once, every other answer is a
// refusal (PASSKEY_INVALID, INVALID_STATE), the balance moves once and the
// ledger verifies.
func TestReplayedAssertionManyKeysTwoInstances(t *testing.T) {
	a, other, b, seller := twoInstances(t)
	for round := range 6 {
		replayUnderManyKeys(t, round, 8, b, seller, a, other)
	}
	want(t, "buyer", a.available(t, b.User), "94.00")
	verifyOK(t, a.Env)
}

// TestReplayedAssertionManyKeysOneInstance (both engines; on SQLite the
// requests share group commits): as above, 12 at once on one instance.
func TestReplayedAssertionManyKeysOneInstance(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newEscrowEnv(t, d)
		b := e.buyer(t, "100.00")
		seller := e.RegisterVerified(t)
		for round := range 6 {
			replayUnderManyKeys(t, round, 12, b, seller, e)
		}
		want(t, "buyer", e.available(t, b.User), "94.00")
		verifyOK(t, e.Env)
	})
}

// replayUnderManyKeys creates a payment of 1.00 on envs[0] and presents
// its one assertion n times at once under n keys, to envs in turn: one
// authorization, every other answer a refusal.
func replayUnderManyKeys(t *testing.T, round, n int, b buyer, seller *testenv.User, envs ...*escrowEnv) {
	t.Helper()
	c, cred := signedPayment(t, envs[0], b, seller, fmt.Sprintf("replay-create-%d", round))
	res := make([]authOutcome, n)
	start, done := make(chan struct{}), make(chan struct{})
	for i := range res {
		e := envs[i%len(envs)]
		go func() {
			<-start
			res[i] = authorizeDirect(context.Background(), e, b, c.Payment.ID, cred, fmt.Sprintf("replay-%d-%d", round, i))
			done <- struct{}{}
		}()
	}
	close(start)
	for range res {
		<-done
	}
	wins := 0
	var codes []string
	for _, r := range res {
		codes = append(codes, r.code())
		switch r.code() {
		case "":
			wins++
		case "PASSKEY_INVALID", "INVALID_STATE":
		default:
			t.Errorf("round %d: unexpected %s", round, r.code())
		}
	}
	if wins != 1 {
		t.Errorf("round %d: %d wins: %v", round, wins, codes)
	}
}

// TestSameWithdrawalTwice (both engines): one withdrawal (one assertion,
// one idempotency key) sent twice at once, as a client retrying it. One
// request makes it; the other replays it or is answered IN_PROGRESS,
// never refused PASSKEY_INVALID: a request answered IN_PROGRESS leaves the
// challenge to its twin, which is about to spend it.
func TestSameWithdrawalTwice(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u, _ := funded(t, e, "100")
		card := linkCard(t, e, u, cardPending)
		for round := range 8 {
			cred := withdrawalCredential(t, e, u, card, "1", "CNY")
			key := fmt.Sprintf("twice-%d", round)
			res := make([]opResult, 2)
			start, done := make(chan struct{}), make(chan struct{})
			for i := range res {
				go func() {
					<-start
					res[i] = withdrawWith(t, e, u, card, "1", key, cred)
					done <- struct{}{}
				}()
			}
			close(start)
			<-done
			<-done
			first := 0
			for _, r := range res {
				switch {
				case r.code() == "" && !r.replay:
					first++
				case r.code() == "" && r.replay, r.code() == "IDEMPOTENCY_CONFLICT":
				default:
					t.Errorf("round %d: %s", round, r.code())
				}
			}
			if first != 1 {
				t.Errorf("round %d: %d first results: %v, %v", round, first, res[0].code(), res[1].code())
			}
		}
		if b := balances(t, e, u); b.Available != "92.00" {
			t.Fatalf("available %s after 8 withdrawals of 1", b.Available)
		}
	})
}

// waitLocks waits until at least n backends of the test database wait on
// a lock.
func waitLocks(t *testing.T, e *escrowEnv, n int) {
	t.Helper()
	waitLockWaiters(t, e, func(got int) bool { return got >= n }, fmt.Sprintf("at least %d", n))
}

// waitLockWaiters waits until the number of the test's own backends (its
// scratch schema's application_name: other packages' tests share the
// database) waiting on a lock satisfies ok (10 s at most).
func waitLockWaiters(t *testing.T, e *escrowEnv, ok func(int) bool, what string) {
	t.Helper()
	for range 400 {
		var got int
		if err := e.App.DB.SQL.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = current_setting('application_name') AND wait_event_type = 'Lock'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if ok(got) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("never %s waiting on a lock", what)
}

// TestNoFailureRecordedOnATwinsPayment (PostgreSQL, two instances): a
// client's authorizePayment R1 on A holds the key, spends the challenge in
// its money transaction and is cancelled (the client timed out); its
// retry R2 (same assertion, same key) on B verifies the challenge, which
// R1's rollback restored, claims the key and pays. R1's clean-up then
// finds the challenge spent and the payment PAID: it records no
// AUTHORIZATION_FAILED (whose payment.authorization_failed events would
// reach payer, payee and partner) on a payment that went through (found
// in review).
func TestNoFailureRecordedOnATwinsPayment(t *testing.T) {
	a, other, b, seller := twoInstances(t, testenv.With("DANBAO_DB_WRITERS", "1"))
	c, cred := signedPayment(t, a, b, seller, "audit-twin-create")
	key := "audit-twin-" + c.Payment.ID
	bg := context.Background()

	lock, err := a.App.DB.SQL.BeginTx(bg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(bg, `SELECT 1 FROM payments WHERE id = $1 FOR UPDATE`, c.Payment.ID); err != nil {
		t.Fatal(err)
	}

	ctx1, cancel1 := context.WithCancel(bg)
	defer cancel1()
	first := make(chan authOutcome, 1)
	go func() { first <- authorizeDirect(ctx1, a, b, c.Payment.ID, cred, key) }()
	waitLocks(t, a, 1) // R1: key claimed, challenge spent, waits on the payment row

	// A's only writer slot, queued behind R1: R1's discard will wait for it.
	held, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = dbtx.WithTx(bg, a.App.DB.Client, func(*ent.Tx) error {
			close(held)
			<-stop
			return nil
		})
	}()
	waitQueued(t, "TestNoFailureRecordedOnATwinsPayment", 1)
	cancel1() // the client gives up on R1
	<-held    // R1 rolled back; its discard waits for the slot
	// R1's statement is cancelled by a request of its own, which its
	// backend may act on after R1's rollback returned: none waits before
	// R2 starts, so that the waiter counted below is R2.
	waitLockWaiters(t, a, func(got int) bool { return got == 0 }, "none")

	second := make(chan authOutcome, 1)
	go func() { second <- authorizeDirect(bg, other, b, c.Payment.ID, cred, key) }()
	time.Sleep(200 * time.Millisecond)
	select {
	case s := <-second:
		t.Fatalf("R2 ended early: %s", s.code())
	default:
	}
	waitLocks(t, a, 1) // R2: key claimed, challenge spent, waits on the payment row
	close(stop)
	<-done
	waitLocks(t, a, 2) // R1's discard waits on R2's session row
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	f, s := <-first, <-second
	st := a.payment(t, b.User, c.Payment.ID).Status
	t.Logf("R1 (A, cancelled): %s; R2 (B): %s; payment %s", f.code(), s.code(), st)
	if s.err != nil || st != "PAID" {
		t.Fatalf("scenario not reached: R2 did not pay (%s, payment %s), so nothing below is checked", s.code(), st)
	}

	rows, err := a.App.DB.SQL.QueryContext(bg, `SELECT from_status, to_status, detail::text FROM payment_events WHERE payment_id = $1 AND event = 'AUTHORIZATION_FAILED'`, c.Payment.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to, detail string
		if err := rows.Scan(&from, &to, &detail); err != nil {
			t.Fatal(err)
		}
		t.Logf("AUTHORIZATION_FAILED %s -> %s %s", from, to, detail)
		if st == "PAID" {
			t.Errorf("AUTHORIZATION_FAILED (%s -> %s, %s) recorded, and sent to payer, payee and partner, on a payment its twin paid", from, to, detail)
		}
	}
}

// TestEqualCountersAtOnceMarkAClone (PostgreSQL): a cloned authenticator
// and the original report the same counter (5) for two payments presented
// at about the same time. One credential never legitimately signs twice
// with one counter value: presented in turn, the second is refused
// PASSKEY_CLONE_SUSPECTED and the passkey marked, and so it is when they
// are presented at once (the first's counter write uncommitted while the
// second is verified), not refused CONFLICT with the passkey left usable
// (found in review).
func TestEqualCountersAtOnceMarkAClone(t *testing.T) {
	five := uint32(5)
	e, b, f, s := overlappingAuthorizations(t, "eq", &five)
	var suspected bool
	if err := e.App.DB.SQL.QueryRowContext(context.Background(), `SELECT clone_suspected FROM passkeys WHERE user_id = $1`, b.User.ID).Scan(&suspected); err != nil {
		t.Fatal(err)
	}
	t.Logf("A: %s, B: %s, clone_suspected %v", f.code(), s.code(), suspected)
	if f.err != nil || s.code() != "PASSKEY_CLONE_SUSPECTED" || !suspected {
		t.Errorf("two assertions with counter 5 at once: A %s, B %s (want PASSKEY_CLONE_SUSPECTED), passkey marked %v", f.code(), s.code(), suspected)
	}
}

// TestCancelledWithdrawalRetryLeavesItsTwinAlone (PostgreSQL, two
// instances): as TestCancelledRetryLeavesItsTwinAlone for a withdrawal. A
// is queued for its writer slot with the assertion; the client's retry
// on B (same assertion, same key) is cancelled while queued for B's. B
// never held the key, so it leaves the challenge to A, which withdraws.
func TestCancelledWithdrawalRetryLeavesItsTwinAlone(t *testing.T) {
	a, other, b, _ := twoInstances(t, testenv.With("DANBAO_DB_WRITERS", "1"))
	card := linkCard(t, a.Env, b.User, cardPending)
	var begun struct {
		BeginWithdrawalAuthorization struct{ Options json.RawMessage }
	}
	a.Do(t, b.User.AccessToken, beginWithdrawalMutation, map[string]any{"in": map[string]any{
		"bankCardId": card, "amount": "1", "currency": "CNY"}}).Decode(t, &begun)
	cred, err := b.auth.Assert(begun.BeginWithdrawalAuthorization.Options, softauthn.AssertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := wallet.MoveInput{BankCardID: pulid.ID(card), Amount: "1", Currency: "CNY", IdempotencyKey: "cancelled-withdrawal", Credential: cred}
	releaseA := holdGate(t, a)
	first := make(chan error, 1)
	go func() {
		_, _, err := a.App.Wallet.Withdraw(context.Background(), pulid.ID(b.User.ID), in)
		first <- err
	}()
	releaseB := holdGate(t, other)
	ctx, cancel := context.WithCancel(context.Background())
	retry := make(chan error, 1)
	go func() {
		_, _, err := other.App.Wallet.Withdraw(ctx, pulid.ID(b.User.ID), in)
		retry <- err
	}()
	waitQueued(t, "wallet.(*Service).Withdraw", 2) // both queued for their slots
	cancel()
	queuedThenCancelled(t, <-retry)
	releaseB()
	releaseA()
	if err := <-first; err != nil {
		t.Fatalf("the first request failed with %s after its cancelled retry (%v)", apperr.CodeOf(err), err)
	}
}
