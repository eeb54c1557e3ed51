package passkey_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/passkeysession"
	"danbao/ent/schema/pulid"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/passkey"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

var paymentSeq atomic.Int64

// world is one instance with a payer (alice, one passkey on aliceDevice),
// a payee (bob) and a stranger (mallory, with a passkey of her own).
type world struct {
	e           *testenv.Env
	clock       *testenv.Clock
	svc         *passkey.Service
	alice, bob  *testenv.User
	mallory     *testenv.User
	aliceDevice *softauthn.Authenticator
	malloryDev  *softauthn.Authenticator
	alicePK     pulid.ID
}

func newWorld(t *testing.T, d testenv.Dialect, more ...testenv.Option) *world {
	t.Helper()
	clock := &testenv.Clock{}
	e := testenv.New(t, d, append([]testenv.Option{testenv.WithClock(clock.Now)}, more...)...)
	w := &world{e: e, clock: clock, svc: e.App.Passkeys, aliceDevice: e.Authenticator(), malloryDev: e.Authenticator()}
	w.alice, w.bob, w.mallory = e.Register(t), e.Register(t), e.Register(t)
	w.alicePK = pulid.ID(e.AddPasskey(t, w.alice, w.aliceDevice))
	e.AddPasskey(t, w.mallory, w.malloryDev)
	return w
}

// payment returns a new payment from alice to bob.
func (w *world) payment() passkey.PaymentChallengeInput {
	return passkey.PaymentChallengeInput{
		PaymentID:   fmt.Sprintf("pay_%026d", paymentSeq.Add(1)),
		Payer:       pulid.ID(w.alice.ID),
		Payee:       pulid.ID(w.bob.ID),
		AmountMinor: 12_345,
		Currency:    "CNY",
	}
}

func (w *world) begin(t *testing.T, in passkey.PaymentChallengeInput) json.RawMessage {
	t.Helper()
	options, err := w.svc.BeginPayment(context.Background(), nil, in)
	if err != nil {
		t.Fatalf("BeginPayment: %v", err)
	}
	return options
}

func sign(t *testing.T, a *softauthn.Authenticator, options json.RawMessage, opts softauthn.AssertOptions) []byte {
	t.Helper()
	cred, err := a.Assert(options, opts)
	if err != nil {
		t.Fatalf("softauthn: %v", err)
	}
	return cred
}

func (w *world) finish(in passkey.PaymentChallengeInput, cred []byte) (*passkey.Evidence, apperr.Code) {
	ev, err := w.finishAlone(context.Background(), in, cred)
	return ev, apperr.CodeOf(err)
}

// finishAlone authorizes as escrow's authorizePayment does, without the
// money: VerifyPayment outside any transaction, then SpendPayment in a
// transaction (the money's, there); after a refused spend RecordFailure,
// after any other failure Discard in a transaction of its own.
func (w *world) finishAlone(ctx context.Context, in passkey.PaymentChallengeInput, cred []byte) (*passkey.Evidence, error) {
	v, err := w.svc.VerifyPayment(ctx, in, cred)
	if err != nil {
		return nil, err
	}
	client := w.e.App.DB.Client
	err = dbtx.WithTx(ctx, client, func(tx *ent.Tx) error { return w.svc.SpendPayment(ctx, tx, v) })
	if err == nil {
		return v.Evidence, nil
	}
	bg := context.WithoutCancel(ctx)
	if passkey.Refused(err) {
		if rerr := w.svc.RecordFailure(bg, err); rerr != nil {
			return nil, rerr
		}
	} else if derr := dbtx.WithTx(bg, client, func(tx *ent.Tx) error { _, err := w.svc.Discard(bg, tx, v); return err }); derr != nil {
		return nil, derr
	}
	return nil, err
}

// pk loads alice's passkey.
func (w *world) pk(t *testing.T) *ent.Passkey {
	t.Helper()
	p, err := w.e.App.DB.Client.Passkey.Get(context.Background(), w.alicePK)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestPaymentAuthorization authorizes a payment: the options bind the
// payment, the evidence proves the assertion, and the challenge works once.
func TestPaymentAuthorization(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		ctx := context.Background()
		in := w.payment()
		options := w.begin(t, in)

		var o struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			Timeout          int    `json:"timeout"`
			AllowCredentials []struct{ Type, ID string }
		}
		if err := json.Unmarshal(options, &o); err != nil {
			t.Fatal(err)
		}
		aliceCred := w.aliceDevice.Credentials()[0]
		if o.RPID != "localhost" || o.UserVerification != "required" || o.Timeout != 300000 ||
			len(o.AllowCredentials) != 1 || o.AllowCredentials[0].ID != b64(aliceCred.ID) || o.AllowCredentials[0].Type != "public-key" {
			t.Fatalf("options %s", options)
		}
		// The stored session records the bound fields, and the challenge is
		// derived from them and its nonce.
		ps, err := w.e.App.DB.Client.PasskeySession.Query().Where(passkeysession.PaymentID(in.PaymentID)).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Purpose != passkeysession.PurposePAYMENT || *ps.UserID != in.Payer || *ps.PayeeID != in.Payee ||
			*ps.AmountMinor != in.AmountMinor || *ps.Currency != in.Currency || len(ps.Nonce) != passkey.NonceLen {
			t.Fatalf("stored session %+v", ps)
		}
		if want := b64(passkey.PaymentChallenge(in, ps.Nonce)); o.Challenge != want || ps.Challenge != want {
			t.Fatalf("challenge %q (stored %q), want %q", o.Challenge, ps.Challenge, want)
		}
		if d := ps.ExpiresAt.Sub(ps.CreatedAt); d != 5*time.Minute {
			t.Fatalf("session lives %v, want 5m", d)
		}

		cred := sign(t, w.aliceDevice, options, softauthn.AssertOptions{})
		ev, code := w.finish(in, cred)
		if code != "" {
			t.Fatalf("FinishPayment: %s", code)
		}
		if ev.PaymentID != in.PaymentID || ev.PasskeyID != w.alicePK || !bytes.Equal(ev.CredentialID, aliceCred.ID) ||
			ev.Factors != 2 || !ev.UserVerified || ev.Flags&0x05 != 0x05 || ev.SignCount != 1 || ev.BackupEligible || ev.BackupState ||
			ev.RPID != "localhost" || ev.Origin != w.e.Origin || ev.Challenge != o.Challenge || ev.VerifiedAt.IsZero() {
			t.Fatalf("evidence %+v", ev)
		}
		if h := sha256.Sum256(ev.ClientDataJSON); !bytes.Equal(ev.ClientDataHash, h[:]) {
			t.Fatal("clientDataHash is not SHA-256 of clientDataJSON")
		}
		// The evidence proves the authorization later: the challenge comes
		// from the payment and nonce, and the signature verifies with the
		// passkey's public key.
		if b64(passkey.PaymentChallenge(in, ev.Nonce)) != ev.Challenge {
			t.Fatal("evidence nonce does not give its challenge")
		}
		key, err := webauthncose.ParsePublicKey(w.pk(t).PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := webauthncose.VerifySignature(key, append(bytes.Clone(ev.AuthenticatorData), ev.ClientDataHash...), ev.Signature); !ok || err != nil {
			t.Fatalf("evidence signature does not verify: %v", err)
		}
		// Counter and last use written back; the session is gone.
		if p := w.pk(t); p.SignCount != 1 || p.LastUsedAt == nil {
			t.Fatalf("passkey after payment: count %d last used %v", p.SignCount, p.LastUsedAt)
		}
		if n, _ := w.e.App.DB.Client.PasskeySession.Query().Where(passkeysession.PaymentID(in.PaymentID)).Count(ctx); n != 0 {
			t.Fatalf("%d sessions left for the payment", n)
		}
		if _, code := w.finish(in, cred); code != apperr.PasskeyInvalid {
			t.Fatalf("replayed assertion: %q, want PASSKEY_INVALID", code)
		}
	})
}

// TestPaymentAuthorizationRefusals presents assertions that must not
// authorize the payment, each refused with a stable code and leaving the
// passkey as it was.
func TestPaymentAuthorizationRefusals(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		carol := w.e.Register(t)

		type attempt struct {
			in   passkey.PaymentChallengeInput // what FinishPayment is told
			cred []byte
		}
		honest := func(t *testing.T, opts softauthn.AssertOptions) attempt {
			in := w.payment()
			return attempt{in, sign(t, w.aliceDevice, w.begin(t, in), opts)}
		}
		changed := func(t *testing.T, f func(*passkey.PaymentChallengeInput)) attempt {
			a := honest(t, softauthn.AssertOptions{})
			f(&a.in)
			return a
		}
		replayed := honest(t, softauthn.AssertOptions{})
		if _, code := w.finish(replayed.in, replayed.cred); code != "" {
			t.Fatalf("honest payment: %s", code)
		}

		tests := []struct {
			name string
			make func(t *testing.T) attempt
			want apperr.Code
		}{
			{"replayed assertion", func(t *testing.T) attempt { return replayed }, apperr.PasskeyInvalid},
			{"assertion for payment A presented for payment B", func(t *testing.T) attempt {
				a, b := w.payment(), w.payment()
				credA := sign(t, w.aliceDevice, w.begin(t, a), softauthn.AssertOptions{})
				w.begin(t, b)
				return attempt{b, credA}
			}, apperr.PasskeyInvalid},
			{"changed amount", func(t *testing.T) attempt {
				return changed(t, func(in *passkey.PaymentChallengeInput) { in.AmountMinor++ })
			}, apperr.PasskeyInvalid},
			{"changed payee", func(t *testing.T) attempt {
				return changed(t, func(in *passkey.PaymentChallengeInput) { in.Payee = pulid.ID(carol.ID) })
			}, apperr.PasskeyInvalid},
			{"changed currency", func(t *testing.T) attempt {
				return changed(t, func(in *passkey.PaymentChallengeInput) { in.Currency = "USD" })
			}, apperr.PasskeyInvalid},
			{"changed payer", func(t *testing.T) attempt {
				return changed(t, func(in *passkey.PaymentChallengeInput) { in.Payer = pulid.ID(w.mallory.ID) })
			}, apperr.PasskeyInvalid},
			{"another user's credential", func(t *testing.T) attempt {
				in := w.payment()
				mine := w.malloryDev.Credentials()[0].ID
				return attempt{in, sign(t, w.malloryDev, w.begin(t, in), softauthn.AssertOptions{CredentialID: mine})}
			}, apperr.PasskeyInvalid},
			{"another user's credential for their own payment, presented as alice's", func(t *testing.T) attempt {
				mal := w.payment()
				mal.Payer = pulid.ID(w.mallory.ID)
				cred := sign(t, w.malloryDev, w.begin(t, mal), softauthn.AssertOptions{})
				in := mal
				in.Payer = pulid.ID(w.alice.ID)
				return attempt{in, cred}
			}, apperr.PasskeyInvalid},
			{"user verification missing", func(t *testing.T) attempt {
				return honest(t, softauthn.AssertOptions{OmitUV: true})
			}, apperr.PasskeyInvalid},
			{"wrong origin", func(t *testing.T) attempt {
				return honest(t, softauthn.AssertOptions{Origin: "https://phish.example"})
			}, apperr.PasskeyInvalid},
			{"wrong RP ID hash", func(t *testing.T) attempt {
				return honest(t, softauthn.AssertOptions{RPID: "phish.example"})
			}, apperr.PasskeyInvalid},
			{"sign-in challenge", func(t *testing.T) attempt {
				return attempt{w.payment(), sign(t, w.aliceDevice, w.e.BeginPasskeyLogin(t), softauthn.AssertOptions{})}
			}, apperr.PasskeyInvalid},
			{"expired challenge", func(t *testing.T) attempt {
				in := w.payment()
				options := w.begin(t, in)
				w.clock.Advance(5*time.Minute + time.Second)
				return attempt{in, sign(t, w.aliceDevice, options, softauthn.AssertOptions{})}
			}, apperr.ChallengeExpired},
			{"malformed credential JSON", func(t *testing.T) attempt {
				return attempt{w.payment(), []byte(`{"id":"AAAA","type":"public-key","response":{"clientDataJSON":"e30"}}`)}
			}, apperr.InvalidInput},
			{"not JSON at all", func(t *testing.T) attempt { return attempt{w.payment(), []byte(`<xml/>`)} }, apperr.InvalidInput},
			{"invalid payment fields", func(t *testing.T) attempt {
				return changed(t, func(in *passkey.PaymentChallengeInput) { in.AmountMinor = 0 })
			}, apperr.InvalidInput},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := tt.make(t)
				before := w.pk(t)
				ev, code := w.finish(a.in, a.cred)
				if code != tt.want || ev != nil {
					t.Fatalf("code %q (evidence %v), want %s", code, ev != nil, tt.want)
				}
				after := w.pk(t)
				if after.SignCount != before.SignCount || !after.LastUsedAt.Equal(*before.LastUsedAt) || after.CloneSuspected {
					t.Fatalf("refusal changed the passkey: count %d -> %d, last used %v -> %v, clone %v",
						before.SignCount, after.SignCount, before.LastUsedAt, after.LastUsedAt, after.CloneSuspected)
				}
			})
		}

		// The assertion for A that was presented for B is spent: it does
		// not authorize A afterwards either.
		a, b := w.payment(), w.payment()
		credA := sign(t, w.aliceDevice, w.begin(t, a), softauthn.AssertOptions{})
		w.begin(t, b)
		if _, code := w.finish(b, credA); code != apperr.PasskeyInvalid {
			t.Fatalf("A's assertion for B: %q", code)
		}
		if _, code := w.finish(a, credA); code != apperr.PasskeyInvalid {
			t.Fatalf("A's assertion after it was presented for B: %q, want PASSKEY_INVALID", code)
		}
		// Malformed input spends nothing: the honest response still works.
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		broken := bytes.Replace(cred, []byte(`"signature":"`), []byte(`"signature":"!`), 1)
		if _, code := w.finish(in, broken); code != apperr.InvalidInput {
			t.Fatalf("broken signature encoding: %q", code)
		}
		if _, code := w.finish(in, cred); code != "" {
			t.Fatalf("honest payment after a malformed attempt: %q", code)
		}
	})
}

// TestPaymentCloneBlocksMoneyMovement: a counter regression marks the
// passkey, after which it authorizes nothing (it still signs in), until the
// user registers a new passkey.
func TestPaymentCloneBlocksMoneyMovement(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		clone := w.e.Authenticator()
		clone.Import(w.aliceDevice.Credentials()[0])

		for range 2 {
			in := w.payment()
			if _, code := w.finish(in, sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})); code != "" {
				t.Fatalf("original: %s", code)
			}
		}
		pending := w.payment()
		pendingOptions := w.begin(t, pending)

		// The clone's counter (1) lags the stored one (2).
		in := w.payment()
		if _, code := w.finish(in, sign(t, clone, w.begin(t, in), softauthn.AssertOptions{})); code != apperr.PasskeyCloneSuspected {
			t.Fatalf("clone: %q, want PASSKEY_CLONE_SUSPECTED", code)
		}
		if p := w.pk(t); !p.CloneSuspected || p.CloneSuspectedAt == nil || p.SignCount != 2 {
			t.Fatalf("after the clone: suspected %v at %v, count %d", p.CloneSuspected, p.CloneSuspectedAt, p.SignCount)
		}
		// An honest assertion of the original, to a challenge issued before
		// the suspicion, is refused too.
		if _, code := w.finish(pending, sign(t, w.aliceDevice, pendingOptions, softauthn.AssertOptions{})); code != apperr.PasskeyCloneSuspected {
			t.Fatalf("original after the suspicion: %q, want PASSKEY_CLONE_SUSPECTED", code)
		}
		// No new challenge for it: alice has no usable passkey.
		if _, err := w.svc.BeginPayment(context.Background(), nil, w.payment()); !apperr.Is(err, apperr.PasskeyRequired) {
			t.Fatalf("BeginPayment with only a suspected passkey: %v", err)
		}
		// Signing in still works with the original.
		if r := w.e.FinishPasskeyLogin(t, sign(t, w.aliceDevice, w.e.BeginPasskeyLogin(t), softauthn.AssertOptions{})); len(r.UserErrors) > 0 {
			t.Fatalf("sign-in with the suspected passkey: %+v", r.UserErrors)
		}
		// Registered again (a new credential), payments work again, and
		// only from the new passkey.
		newDevice := w.e.Authenticator()
		w.e.AddPasskey(t, w.alice, newDevice)
		in = w.payment()
		options := w.begin(t, in)
		var o struct{ AllowCredentials []struct{ ID string } }
		_ = json.Unmarshal(options, &o)
		if len(o.AllowCredentials) != 1 || o.AllowCredentials[0].ID != b64(newDevice.Credentials()[0].ID) {
			t.Fatalf("allowCredentials %+v, want only the new passkey", o.AllowCredentials)
		}
		if _, code := w.finish(in, sign(t, newDevice, options, softauthn.AssertOptions{})); code != "" {
			t.Fatalf("new passkey: %s", code)
		}
	})
}

// TestPaymentRevokedPasskey: a revoked passkey cannot answer a challenge
// issued before its revocation, and without another passkey no challenge
// is issued (PASSKEY_REQUIRED).
func TestPaymentRevokedPasskey(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		ctx := context.Background()
		in := w.payment()
		options := w.begin(t, in)
		if _, err := w.svc.Revoke(ctx, pulid.ID(w.alice.ID), w.alicePK); err != nil {
			t.Fatal(err)
		}
		if _, code := w.finish(in, sign(t, w.aliceDevice, options, softauthn.AssertOptions{})); code != apperr.PasskeyRevoked {
			t.Fatalf("revoked passkey: %q, want PASSKEY_REVOKED", code)
		}
		if _, err := w.svc.BeginPayment(ctx, nil, w.payment()); !apperr.Is(err, apperr.PasskeyRequired) {
			t.Fatalf("BeginPayment after revoking the only passkey: %v", err)
		}
		noPasskeys := w.payment()
		noPasskeys.Payer = pulid.ID(w.bob.ID)
		noPasskeys.Payee = pulid.ID(w.alice.ID)
		if _, err := w.svc.BeginPayment(ctx, nil, noPasskeys); !apperr.Is(err, apperr.PasskeyRequired) {
			t.Fatalf("BeginPayment for a user without passkeys: %v", err)
		}
		unknown := w.payment()
		unknown.Payer = pulid.New(pulid.PrefixUser)
		if _, err := w.svc.BeginPayment(ctx, nil, unknown); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("BeginPayment for an unknown payer: %v", err)
		}
	})
}

// TestPaymentBeginReplacesPendingChallenge: a payment has at most one
// pending challenge.
func TestPaymentBeginReplacesPendingChallenge(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		in := w.payment()
		first := w.begin(t, in)
		second := w.begin(t, in)
		if _, code := w.finish(in, sign(t, w.aliceDevice, first, softauthn.AssertOptions{})); code != apperr.PasskeyInvalid {
			t.Fatalf("superseded challenge: %q, want PASSKEY_INVALID", code)
		}
		if _, code := w.finish(in, sign(t, w.aliceDevice, second, softauthn.AssertOptions{})); code != "" {
			t.Fatalf("current challenge: %q", code)
		}
	})
}

// TestFinishPaymentInCallerTransaction shows the contract escrow relies on:
// FinishPayment's effects belong to the caller's transaction, and a failed
// attempt is kept spent by RecordFailure after the caller rolls back.
func TestFinishPaymentInCallerTransaction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		ctx := context.Background()
		client := w.e.App.DB.Client
		errLater := errors.New("a later step of the caller failed")

		// Success, then the caller fails and rolls back: nothing happened,
		// so the same assertion can be presented again.
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		err := dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
			if _, err := w.svc.FinishPayment(ctx, tx, in, cred); err != nil {
				return err
			}
			return errLater
		})
		if !errors.Is(err, errLater) || w.pk(t).SignCount != 0 {
			t.Fatalf("rolled-back success: %v, count %d", err, w.pk(t).SignCount)
		}
		// Success committed with the caller's transaction.
		var ev *passkey.Evidence
		err = dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
			var err error
			ev, err = w.svc.FinishPayment(ctx, tx, in, cred)
			return err
		})
		if err != nil || ev == nil || w.pk(t).SignCount != 1 {
			t.Fatalf("committed success: %v, count %d", err, w.pk(t).SignCount)
		}
		if _, code := w.finish(in, cred); code != apperr.PasskeyInvalid {
			t.Fatalf("replay after commit: %q", code)
		}

		// Failure: the caller rolls back, RecordFailure spends the challenge.
		in = w.payment()
		options := w.begin(t, in)
		bad := sign(t, w.aliceDevice, options, softauthn.AssertOptions{OmitUV: true})
		good := sign(t, w.aliceDevice, options, softauthn.AssertOptions{})
		err = dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
			_, err := w.svc.FinishPayment(ctx, tx, in, bad)
			return err
		})
		if !apperr.Is(err, apperr.PasskeyInvalid) {
			t.Fatalf("no UV in the caller's transaction: %v", err)
		}
		if err := w.svc.RecordFailure(ctx, err); err != nil {
			t.Fatal(err)
		}
		if _, code := w.finish(in, good); code != apperr.PasskeyInvalid {
			t.Fatalf("challenge after a recorded failure: %q, want PASSKEY_INVALID", code)
		}
		// RecordFailure ignores errors that are not a finish step's.
		if err := w.svc.RecordFailure(ctx, errLater); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConcurrentFinishPayment: one assertion presented many times at once
// authorizes exactly once.
func TestConcurrentFinishPayment(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		w := newWorld(t, d)
		in := w.payment()
		cred := sign(t, w.aliceDevice, w.begin(t, in), softauthn.AssertOptions{})
		const n = 8
		got := make([]apperr.Code, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, got[i] = w.finish(in, cred) })
		}
		wg.Wait()
		slices.Sort(got)
		want := append([]apperr.Code{""}, slices.Repeat([]apperr.Code{apperr.PasskeyInvalid}, n-1)...)
		if !slices.Equal(got, want) {
			t.Fatalf("outcomes %q, want one success and %d PASSKEY_INVALID", got, n-1)
		}
		if c := w.pk(t).SignCount; c != 1 {
			t.Fatalf("sign count %d after one authorization", c)
		}
	})
}
