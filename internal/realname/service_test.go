package realname_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"danbao/ent"
	"danbao/ent/identitybinding"
	"danbao/ent/schema/pulid"
	"danbao/ent/verification"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"
	"danbao/internal/kyc"
	"danbao/internal/realname"
	"danbao/internal/testenv"
	"danbao/internal/vault"
)

func residentID(first17 string) string {
	c, err := kyc.CheckDigit(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

func keyring(t *testing.T, versions ...int) *vault.Keyring {
	t.Helper()
	keys := map[int][]byte{}
	for _, v := range versions {
		keys[v] = bytes.Repeat([]byte{byte(v)}, vault.KeySize)
	}
	k, err := vault.NewKeyring(keys, slices.Max(versions), bytes.Repeat([]byte{0xAA}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// service builds a realname.Service on e's database with its own keys,
// verifier and log.
func service(t *testing.T, e *testenv.Env, keys *vault.Keyring, v realname.Verifier) (*realname.Service, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return realname.New(e.App.DB.Client, keys, v, kyc.DefaultConfig(), log), logs
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	if field != "" && !slices.Equal(e.Field, []string{"input", field}) {
		t.Fatalf("error field %v, want [input %s]", e.Field, field)
	}
}

func inTx(e *testenv.Env, f func(tx *ent.Tx) error) error {
	return dbtx.WithTx(context.Background(), e.App.DB.Client, f)
}

func TestCheckCardHolder(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		s, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
		ctx := context.Background()
		check := func(userID string, holder string) error {
			return inTx(e, func(tx *ent.Tx) error { return s.CheckCardHolder(ctx, tx, pulid.ID(userID), holder) })
		}

		unverified := e.Register(t)
		wantCode(t, check(unverified.ID, "Zhang San"), apperr.VerificationRequired, "")

		pending := e.Register(t)
		if _, err := s.Submit(ctx, pulid.ID(pending.ID), kyc.Request{LegalName: "PENDING Li", IDType: kyc.Passport, IDNumber: "G12345678"}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, check(pending.ID, "PENDING Li"), apperr.VerificationRequired, "")

		u := e.Register(t)
		if _, err := s.Submit(ctx, pulid.ID(u.ID), kyc.Request{LegalName: "Zhang San", IDType: kyc.ResidentID, IDNumber: residentID("11010519491231002")}); err != nil {
			t.Fatal(err)
		}
		for _, ok := range []string{"Zhang San", "ZHANG SAN", " zhang  san ", "ZHANGSAN", "Zhang-San"} {
			if err := check(u.ID, ok); err != nil {
				t.Errorf("holder %q refused: %v", ok, err)
			}
		}
		for _, bad := range []string{"Li Si", "Zhang Sam", "San Zhang", "", "Zhang 3"} {
			wantCode(t, check(u.ID, bad), apperr.InvalidInput, "holderName")
		}
	})
}

// recorder is an asynchronous verifier: it keeps what it is asked and
// answers later (or fails).
type recorder struct {
	mu   sync.Mutex
	reqs []realname.VerifyRequest
	fail error
}

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Verify(_ context.Context, req realname.VerifyRequest) (kyc.Decision, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	if r.fail != nil {
		return kyc.Decision{}, r.fail
	}
	return kyc.Decision{Outcome: kyc.Undecided}, nil
}

func TestAsynchronousVerifier(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	rec := &recorder{}
	s, logs := service(t, e, keyring(t, 1), rec)
	ctx := context.Background()
	number := residentID("32010219851112123")

	u := e.Register(t)
	v, err := s.Submit(ctx, pulid.ID(u.ID), kyc.Request{LegalName: "Zhao Liu", IDType: kyc.ResidentID, IDNumber: " " + number + " ",
		TargetLevel: kyc.LevelII, Evidence: []string{"a", "b", "c"}})
	if err != nil || v.Status != kyc.Pending || v.Level != kyc.Unverified || v.TargetLevel != kyc.LevelII {
		t.Fatalf("submit: %+v, %v", v, err)
	}
	// The verifier got the validated request, in the clear, with its IDs.
	if len(rec.reqs) != 1 {
		t.Fatalf("verifier asked %d times", len(rec.reqs))
	}
	if r := rec.reqs[0]; r.VerificationID != v.ID || r.UserID != pulid.ID(u.ID) || r.IDNumber != number || r.LegalName != "Zhao Liu" ||
		r.TargetLevel != kyc.LevelII || !slices.Equal(r.Evidence, []string{"a", "b", "c"}) {
		t.Fatalf("verifier request %+v", r)
	}

	// Its answer arrives later.
	wantCode(t, func() error { _, err := s.Resolve(ctx, v.ID, kyc.Decision{Outcome: kyc.Reject}); return err }(), apperr.InvalidInput, "reason")
	got, err := s.Resolve(ctx, v.ID, kyc.Decision{Outcome: kyc.Approve, Level: kyc.LevelII})
	if err != nil || got.Status != kyc.Verified || got.Level != kyc.LevelII || got.DecidedBy == nil || *got.DecidedBy != "verifier:recorder" {
		t.Fatalf("resolve: %+v, %v", got, err)
	}
	// The entity is usable after its transaction: its edge loads.
	if owner, err := got.QueryUser().Only(ctx); err != nil || owner.ID != pulid.ID(u.ID) {
		t.Fatalf("owner of the resolved request: %v, %v", owner, err)
	}
	_, err = s.Resolve(ctx, v.ID, kyc.Decision{Outcome: kyc.Reject, Reason: "late"})
	wantCode(t, err, apperr.InvalidState, "")
	_, err = s.Resolve(ctx, "kyv_01J00000000000000000000000", kyc.Decision{Outcome: kyc.Approve})
	wantCode(t, err, apperr.NotFound, "")

	// A failing verifier leaves the request pending, and the log names the
	// request, never the person.
	rec.fail = errors.New("upstream timeout")
	u2 := e.Register(t)
	number2 := residentID("65010219900101001")
	v2, err := s.Submit(ctx, pulid.ID(u2.ID), kyc.Request{LegalName: "Sun Qi", IDType: kyc.ResidentID, IDNumber: number2})
	if err != nil || v2.Status != kyc.Pending {
		t.Fatalf("submit with a failing verifier: %+v, %v", v2, err)
	}
	out := logs.String()
	if !strings.Contains(out, string(v2.ID)) || !strings.Contains(out, "upstream timeout") {
		t.Fatalf("log does not record the failure: %s", out)
	}
	for _, secret := range []string{number, number2, "Sun Qi", "Zhao Liu"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
	// An operator can still decide it; a reason is counted in characters.
	long := strings.Repeat("证", realname.MaxReasonLen)
	_, err = s.Review(ctx, "usr_operator", realname.ReviewInput{VerificationID: v2.ID, Approve: true, Reason: long + "件"})
	wantCode(t, err, apperr.InvalidInput, "reason")
	r, err := s.Review(ctx, "usr_operator", realname.ReviewInput{VerificationID: v2.ID, Approve: true, Reason: long})
	if err != nil || r.Status != kyc.Verified || r.Level != kyc.LevelI || r.ReviewerID == nil || *r.ReviewerID != "usr_operator" ||
		r.Reason == nil || *r.Reason != long {
		t.Fatalf("review: %+v, %v", r, err)
	}
}

// TestCiphertextIsBoundToItsRow: a ciphertext moved to another user's row
// does not decrypt.
func TestCiphertextIsBoundToItsRow(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	s, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
	ctx := context.Background()
	a, b := e.Register(t), e.Register(t)
	va, err := s.Submit(ctx, pulid.ID(a.ID), kyc.Request{LegalName: "Zhang San", IDType: kyc.ResidentID, IDNumber: residentID("11010519491231002")})
	if err != nil {
		t.Fatal(err)
	}
	vb, err := s.Submit(ctx, pulid.ID(b.ID), kyc.Request{LegalName: "Zhang San", IDType: kyc.ResidentID, IDNumber: residentID("44052419800101006")})
	if err != nil {
		t.Fatal(err)
	}
	c := e.App.DB.Client
	// Both decrypt where they belong.
	for _, u := range []string{a.ID, b.ID} {
		if err := inTx(e, func(tx *ent.Tx) error { return s.CheckCardHolder(ctx, tx, pulid.ID(u), "Zhang San") }); err != nil {
			t.Fatalf("before the swap: %v", err)
		}
	}
	// Swap the encrypted names (equal plaintexts, so only the binding of
	// each ciphertext to its row can tell).
	if err := c.Verification.UpdateOneID(va.ID).SetLegalNameCiphertext(vb.LegalNameCiphertext).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Verification.UpdateOneID(vb.ID).SetLegalNameCiphertext(va.LegalNameCiphertext).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{a.ID, b.ID} {
		err := inTx(e, func(tx *ent.Tx) error { return s.CheckCardHolder(ctx, tx, pulid.ID(u), "Zhang San") })
		if err == nil || apperr.CodeOf(err) != apperr.Internal || !errors.Is(err, vault.ErrDecrypt) {
			t.Fatalf("moved ciphertext: %v, want a decryption failure", err)
		}
	}
}

func TestRotateKeys(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	old, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
	number := residentID("11010519491231002")
	var users []string
	for i, n := range []string{number, residentID("44052419800101006"), residentID("32010219851112123")} {
		u := e.Register(t)
		users = append(users, u.ID)
		name := []string{"Zhang San", "REJECT Li", "PENDING Wang"}[i]
		if _, err := old.Submit(ctx, pulid.ID(u.ID), kyc.Request{LegalName: name, IDType: kyc.ResidentID, IDNumber: n}); err != nil {
			t.Fatal(err)
		}
	}

	rotated, _ := service(t, e, keyring(t, 1, 2), realname.Sandbox{})
	n, err := rotated.RotateKeys(ctx, 2)
	if err != nil || n != 3 {
		t.Fatalf("RotateKeys = %d, %v; want 3", n, err)
	}
	if left, err := e.App.DB.Client.Verification.Query().Where(verification.KeyVersionNEQ(2)).Count(ctx); err != nil || left != 0 {
		t.Fatalf("%d rows left under old keys (%v)", left, err)
	}
	if n, err := rotated.RotateKeys(ctx, 2); err != nil || n != 0 {
		t.Fatalf("second RotateKeys = %d, %v", n, err)
	}
	// The new keys read everything; the old ones no longer can.
	if err := inTx(e, func(tx *ent.Tx) error { return rotated.CheckCardHolder(ctx, tx, pulid.ID(users[0]), "Zhang San") }); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if err := inTx(e, func(tx *ent.Tx) error { return old.CheckCardHolder(ctx, tx, pulid.ID(users[0]), "Zhang San") }); !errors.Is(err, vault.ErrUnknownVersion) {
		t.Fatalf("old keys after rotation: %v", err)
	}
	// The blind index does not depend on the data keys: the number is
	// still taken.
	other := e.Register(t)
	_, err = rotated.Submit(ctx, pulid.ID(other.ID), kyc.Request{LegalName: "Zhang Si", IDType: kyc.ResidentID, IDNumber: number})
	wantCode(t, err, apperr.AlreadyExists, "idNumber")
}

// TestConcurrentSubmissions: wallets racing for one number, and one wallet
// racing with itself, end with one binding each way.
func TestConcurrentSubmissions(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		s, _ := service(t, e, keyring(t, 1), realname.Sandbox{})
		ctx := context.Background()
		number := residentID("11010519491231002")
		race := func(n int, f func(i int) error) map[apperr.Code]int {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				codes = map[apperr.Code]int{}
			)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					err := f(i)
					mu.Lock()
					codes[apperr.CodeOf(err)]++
					mu.Unlock()
					if c := apperr.CodeOf(err); c == apperr.Internal {
						t.Errorf("internal error: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			return codes
		}

		// Eight wallets, one number.
		var users []pulid.ID
		for range 8 {
			users = append(users, pulid.ID(e.Register(t).ID))
		}
		codes := race(len(users), func(i int) error {
			_, err := s.Submit(ctx, users[i], kyc.Request{LegalName: "Zhang San", IDType: kyc.ResidentID, IDNumber: number})
			return err
		})
		if codes[""] != 1 || codes[apperr.AlreadyExists] != len(users)-1 {
			t.Fatalf("one number, many wallets: %v", codes)
		}
		if n, _ := e.App.DB.Client.IdentityBinding.Query().Count(ctx); n != 1 {
			t.Fatalf("%d bindings", n)
		}

		// One wallet, several numbers at once: one request wins.
		me := pulid.ID(e.Register(t).ID)
		numbers := []string{residentID("44052419800101006"), residentID("32010219851112123"), residentID("65010219900101001"), residentID("11010520000229001")}
		codes = race(len(numbers), func(i int) error {
			_, err := s.Submit(ctx, me, kyc.Request{LegalName: "PENDING Li", IDType: kyc.ResidentID, IDNumber: numbers[i]})
			return err
		})
		if codes[""] != 1 || codes[apperr.InvalidState]+codes[apperr.AlreadyExists] != len(numbers)-1 {
			t.Fatalf("one wallet, many requests: %v", codes)
		}
		pending, err := e.App.DB.Client.Verification.Query().Where(verification.UserID(me)).All(ctx)
		if err != nil || len(pending) != 1 {
			t.Fatalf("%d requests stored for the wallet (%v)", len(pending), err)
		}

		// An operator and the verifier decide the same request at once: one
		// decision stands.
		codes = race(6, func(i int) error {
			var err error
			if i%2 == 0 {
				_, err = s.Review(ctx, "usr_operator", realname.ReviewInput{VerificationID: pending[0].ID, Approve: false, Reason: "no"})
			} else {
				_, err = s.Resolve(ctx, pending[0].ID, kyc.Decision{Outcome: kyc.Approve, Level: kyc.LevelI})
			}
			return err
		})
		if codes[""] != 1 || codes[apperr.InvalidState] != 5 {
			t.Fatalf("racing decisions: %v", codes)
		}
		v, err := e.App.DB.Client.Verification.Get(ctx, pending[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		b, berr := e.App.DB.Client.IdentityBinding.Query().Where(identitybinding.UserID(me)).Only(ctx)
		switch v.Status {
		case kyc.Verified:
			if berr != nil || b.Level != kyc.LevelI || b.PendingVerificationID != nil {
				t.Fatalf("approved, but binding %+v, %v", b, berr)
			}
		case kyc.Rejected:
			if !ent.IsNotFound(berr) {
				t.Fatalf("rejected first request, but binding %+v, %v", b, berr)
			}
		default:
			t.Fatalf("status %s after the race", v.Status)
		}
	})
}
