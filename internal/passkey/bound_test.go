package passkey_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/passkeysession"
	"danbao/ent/passkeyuser"
	"danbao/ent/schema/pulid"
	"danbao/internal/app"
	"danbao/internal/apperr"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// traced collects the statements the client sends in contexts it marks
// (ctx), and passes each to hook, when set, before it is sent.
type traced struct {
	mu   sync.Mutex
	seen []string
	hook func(statement string)
}

type tracedKey struct{}

func (r *traced) ctx(parent context.Context) context.Context {
	return context.WithValue(parent, tracedKey{}, r)
}

func (r *traced) statements() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// withTrace builds the instance with its statements traced to the traced
// run of their context, if any.
var withTrace = testenv.WithOptions(func(o *app.Options) {
	o.Trace = func(ctx context.Context, statement string) {
		r, ok := ctx.Value(tracedKey{}).(*traced)
		if !ok {
			return
		}
		r.mu.Lock()
		r.seen = append(r.seen, statement)
		hook := r.hook
		r.mu.Unlock()
		if hook != nil {
			hook(statement)
		}
	}
})

// TestFinishPaymentStatements: a payment's verification (VerifyPayment)
// is one statement outside any transaction, reading the session and the
// passkeys together; its spending (SpendPayment), in the caller's
// transaction, writes only: the session's DELETE and the counter's
// update. A replay is one statement on both engines.
func TestFinishPaymentStatements(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d, withTrace)
		warm := w.payment() // the first finish caches alice's handle on SQLite
		if _, code := w.finish(warm, sign(t, w.aliceDevice, w.begin(t, warm), softauthn.AssertOptions{})); code != "" {
			t.Fatal(code)
		}
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		r := &traced{}
		ev, err := w.finishAlone(r.ctx(context.Background()), in, cred)
		if err != nil || ev == nil {
			t.Fatalf("finish: %v", err)
		}
		seen := r.statements()
		t.Logf("%s: the finish sent %d statements: %v", d, len(seen), seen)
		// The read, then BEGIN, DELETE, UPDATE and COMMIT at most.
		if len(seen) > 5 {
			t.Fatalf("%s: the finish sent %d statements, over 5:\n%s", d, len(seen), strings.Join(seen, "\n"))
		}
		var writes []string
		for i, s := range seen {
			inTx := strings.Contains(s, "Tx(")
			switch {
			case i == 0 && (inTx || !strings.Contains(s, "SELECT")):
				t.Fatalf("the read is not first, outside the transaction:\n%s", strings.Join(seen, "\n"))
			case i > 0 && inTx && strings.Contains(s, "SELECT"):
				t.Fatalf("the transaction reads:\n%s", strings.Join(seen, "\n"))
			case i > 0 && (strings.Contains(s, "DELETE") || strings.Contains(s, "UPDATE")):
				writes = append(writes, s)
			}
		}
		if len(writes) != 2 || !strings.Contains(writes[0], "passkey_sessions") || !strings.Contains(writes[1], "passkeys") {
			t.Fatalf("the spending's writes: %d, want the session's DELETE and the passkey's UPDATE:\n%s", len(writes), strings.Join(seen, "\n"))
		}
		if p := w.pk(t); p.SignCount != 2 || p.LastUsedAt == nil {
			t.Fatalf("passkey after the finish: count %d, last used %v", p.SignCount, p.LastUsedAt)
		}
		r = &traced{}
		if _, err := w.finishAlone(r.ctx(context.Background()), in, cred); !apperr.Is(err, apperr.PasskeyInvalid) {
			t.Fatalf("replay: %v, want PASSKEY_INVALID", err)
		}
		if seen := r.statements(); len(seen) != 1 {
			t.Fatalf("a replay sent %d statements, want 1:\n%s", len(seen), strings.Join(seen, "\n"))
		}
		if p := w.pk(t); p.SignCount != 2 {
			t.Fatalf("a replay moved the counter to %d", p.SignCount)
		}
	})
}

// TestFinishPaymentInterrupted: a spending interrupted before the counter
// is written back (a cancelled request) authorizes nothing: its
// transaction rolls back whole, the counter stays, and the challenge is
// discarded afterwards, so the assertion can never be presented again;
// the old counter takes the passkey's next assertion.
func TestFinishPaymentInterrupted(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d, withTrace)
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := &traced{hook: func(s string) {
			if strings.Contains(s, "UPDATE") && strings.Contains(s, "passkeys") && strings.Contains(s, "sign_count") {
				cancel()
			}
		}}
		if ev, err := w.finishAlone(r.ctx(ctx), in, cred); err == nil || ev != nil {
			t.Fatalf("interrupted finish: %v (evidence %v)", err, ev != nil)
		}
		if p := w.pk(t); p.SignCount != 0 || p.LastUsedAt != nil {
			t.Fatalf("interrupted finish wrote the counter: %d, last used %v", p.SignCount, p.LastUsedAt)
		}
		if _, code := w.finish(in, cred); code != apperr.PasskeyInvalid {
			t.Fatalf("the interrupted assertion again: %q, want PASSKEY_INVALID", code)
		}
		in = w.payment()
		if _, code := w.finish(in, sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})); code != "" {
			t.Fatalf("the next assertion: %q", code)
		}
		// The interrupted assertion's counter (1) was never stored.
		if p := w.pk(t); p.SignCount != 2 || p.CloneSuspected {
			t.Fatalf("after the next authorization: count %d, want 2; clone suspected %v", p.SignCount, p.CloneSuspected)
		}
	})
}

// TestFinishPaymentClone: a counter going backwards is refused at the
// verification, before anything is written, and the passkey marked
// clone-suspected with the session's deletion (RecordFailure).
func TestFinishPaymentClone(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d, withTrace)
		clone := w.e.Authenticator()
		clone.Import(w.aliceDevice.Credentials()[0])
		for range 2 {
			in := w.payment()
			if _, code := w.finish(in, sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})); code != "" {
				t.Fatal(code)
			}
		}
		in := w.payment()
		cred := sign(t, clone, w.begin(t, in), softauthn.AssertOptions{})
		if _, err := w.svc.VerifyPayment(context.Background(), in, cred); !apperr.Is(err, apperr.PasskeyCloneSuspected) {
			t.Fatalf("clone: %v", err)
		}
		if p := w.pk(t); !p.CloneSuspected || p.CloneSuspectedAt == nil || p.SignCount != 2 {
			t.Fatalf("after the clone: suspected %v at %v, count %d", p.CloneSuspected, p.CloneSuspectedAt, p.SignCount)
		}
		if _, code := w.finish(in, cred); code != apperr.PasskeyInvalid {
			t.Fatalf("the clone's assertion again: %q, want PASSKEY_INVALID", code)
		}
	})
}

// TestReadBoundReadsAsEnt: the statement that reads a session returns
// it, the handle and the user's passkeys as ent reads them (every column,
// in order, NULLs included), and a user without passkeys still gets the
// session. It leaves the session, which only SpendPayment deletes.
func TestReadBoundReadsAsEnt(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		ctx := context.Background()
		client := w.e.App.DB.Client
		// alice: two passkeys, one used, one revoked and suspected.
		second := pulid.ID(w.e.AddPasskey(t, w.alice, w.e.Authenticator()))
		in := w.payment()
		if _, code := w.finish(in, sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})); code != "" {
			t.Fatal(code)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := client.Passkey.UpdateOneID(second).SetRevokedAt(now).SetCloneSuspected(true).SetCloneSuspectedAt(now).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		in = w.payment()
		w.begin(t, in)
		stored, err := client.PasskeySession.Query().Where(passkeysession.PaymentID(in.PaymentID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ps, handle, all, err := w.svc.ReadBound(ctx, stored.Challenge, in.Payer)
		if err != nil {
			t.Fatal(err)
		}
		sameFields(t, "session", ps, stored)
		wantHandle, err := client.PasskeyUser.Query().Where(passkeyuser.UserID(in.Payer)).Only(ctx)
		if err != nil || string(handle) != string(wantHandle.Handle) {
			t.Fatalf("handle %x, want %x (%v)", handle, wantHandle.Handle, err)
		}
		want, err := client.Passkey.Query().Where(passkey.UserID(in.Payer)).Order(ent.Asc(passkey.FieldID)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(want) || len(want) != 2 {
			t.Fatalf("%d passkeys, want %d", len(all), len(want))
		}
		for i := range want {
			sameFields(t, "passkey "+string(want[i].ID), all[i], want[i])
		}
		if n, _ := client.PasskeySession.Query().Where(passkeysession.ID(stored.ID)).Count(ctx); n != 1 {
			t.Fatalf("%s: the read spent the session", d)
		}
		client.PasskeySession.DeleteOneID(stored.ID).ExecX(ctx)
		if _, _, _, err := w.svc.ReadBound(ctx, stored.Challenge, in.Payer); !apperr.Is(err, apperr.PasskeyInvalid) {
			t.Fatalf("spent session: %v", err)
		}

		// bob has no passkey: the session comes back alone.
		bob := pulid.ID(w.bob.ID)
		created := client.PasskeySession.Create().SetPurpose(passkeysession.PurposeLOGIN).SetChallenge("bob-challenge").
			SetData([]byte(`{}`)).SetCreatedAt(now).SetExpiresAt(now.Add(time.Minute)).SaveX(ctx)
		ps, handle, all, err = w.svc.ReadBound(ctx, "bob-challenge", bob)
		if err != nil || ps == nil || ps.ID != created.ID || handle != nil || len(all) != 0 {
			t.Fatalf("no passkeys: session %v, handle %x, %d passkeys, %v", ps, handle, len(all), err)
		}
	})
}

// sameFields fails unless got and want (pointers to ent entities) agree
// on every exported field but Edges.
func sameFields(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		f := g.Type().Field(i)
		if !f.IsExported() || f.Name == "Edges" {
			continue
		}
		a, b := g.Field(i).Interface(), w.Field(i).Interface()
		if ta, ok := a.(time.Time); ok {
			if !ta.Equal(b.(time.Time)) {
				t.Errorf("%s %s: %v, want %v", what, f.Name, a, b)
			}
			continue
		}
		if ta, ok := a.(*time.Time); ok {
			tb := b.(*time.Time)
			if (ta == nil) != (tb == nil) || ta != nil && !ta.Equal(*tb) {
				t.Errorf("%s %s: %v, want %v", what, f.Name, ta, tb)
			}
			continue
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s %s: %#v, want %#v", what, f.Name, a, b)
		}
	}
}
