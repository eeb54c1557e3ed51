package app_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/passkey"
	"danbao/ent/refreshtoken"
	"danbao/ent/schema/pulid"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

const refreshMutation = `mutation($t:String!){ refreshToken(input:{refreshToken:$t}) { accessToken refreshToken } }`

// refreshOnce exchanges tok and returns the new pair ("" when refused).
func refreshOnce(t *testing.T, e *testenv.Env, tok string) (access, refresh string) {
	var out struct {
		RefreshToken *struct{ AccessToken, RefreshToken string }
	}
	r := e.Do(t, "", refreshMutation, map[string]any{"t": tok})
	if err := json.Unmarshal(r.Data, &out); err != nil || out.RefreshToken == nil {
		return "", ""
	}
	return out.RefreshToken.AccessToken, out.RefreshToken.RefreshToken
}

// liveRefreshTokens counts the user's refresh tokens that could still be
// exchanged (neither used nor revoked).
func liveRefreshTokens(t *testing.T, e *testenv.Env, userID string) int {
	t.Helper()
	n, err := e.App.DB.Client.RefreshToken.Query().
		Where(refreshtoken.UserID(pulid.ID(userID)), refreshtoken.RevokedAtIsNil(), refreshtoken.UsedAtIsNil()).
		Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// race runs fns at once and waits for all of them.
func race(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f()
		}()
	}
	close(start)
	wg.Wait()
}

// TestRevocationRacingRefreshLeavesNoToken races, 30 times each, a refresh
// of the newest token against (a) reuse of the previous token, (b) logout
// with the newest token and (c) logout with the previous one. Every race
// must end the whole session: no token minted by the concurrent refresh
// survives, in the database or through the API.
func TestRevocationRacingRefreshLeavesNoToken(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"), testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "0"), testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
		const races = 30
		for _, kind := range []string{"reuse", "logout-newest", "logout-previous"} {
			survivors := 0
			for i := 0; i < races; i++ {
				u := e.Register(t)
				_, second := refreshOnce(t, e, u.RefreshToken)
				if second == "" {
					t.Fatal("first refresh refused")
				}
				var minted string
				revoke := func() {
					switch kind {
					case "reuse":
						refreshOnce(t, e, u.RefreshToken)
					case "logout-newest":
						e.Do(t, "", `mutation($t:String!){ logout(input:{refreshToken:$t}) { revoked } }`, map[string]any{"t": second})
					default:
						e.Do(t, "", `mutation($t:String!){ logout(input:{refreshToken:$t}) { revoked } }`, map[string]any{"t": u.RefreshToken})
					}
				}
				race(func() { _, minted = refreshOnce(t, e, second) }, revoke)
				live := liveRefreshTokens(t, e, u.ID)
				if minted != "" {
					if _, next := refreshOnce(t, e, minted); next != "" {
						live++
					}
				}
				if live > 0 {
					survivors++
				}
			}
			if survivors != 0 {
				t.Errorf("%s racing refresh: %d of %d races left a live refresh token", kind, survivors, races)
			}
		}
	})
}

const revokedMutation = `mutation { beginPasskeyRegistration { options userErrors { code } } }`

// sessionRevoked reports whether a credential-changing mutation under
// token is refused as UNAUTHENTICATED with reason SESSION_REVOKED.
func sessionRevoked(t *testing.T, e *testenv.Env, token string) bool {
	t.Helper()
	r := e.Do(t, token, revokedMutation, nil)
	for _, err := range r.Errors {
		if err.Code() == "UNAUTHENTICATED" && err.Extensions["reason"] == "SESSION_REVOKED" {
			return true
		}
	}
	return false
}

// TestSignOutEverywhere ends both sessions of a user: their refresh tokens
// stop working, their access tokens can no longer change credentials or
// move money, reads keep working until expiry; another user is untouched.
func TestSignOutEverywhere(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		other := e.Register(t)
		var login struct {
			Login struct{ AccessToken, RefreshToken string }
		}
		e.Do(t, "", `mutation($p:String!,$w:String!){ login(input:{phone:$p,password:$w}) { accessToken refreshToken } }`,
			map[string]any{"p": u.Phone, "w": u.Password}).Decode(t, &login)
		if sessionRevoked(t, e, login.Login.AccessToken) || sessionRevoked(t, e, u.AccessToken) {
			t.Fatal("live sessions refused before signing out")
		}

		var out struct {
			SignOutEverywhere struct {
				SessionsEnded int
				UserErrors    []testenv.UserError
			}
		}
		e.Do(t, u.AccessToken, `mutation { signOutEverywhere { sessionsEnded userErrors { code } } }`, nil).Decode(t, &out)
		if out.SignOutEverywhere.SessionsEnded != 2 {
			t.Fatalf("sessionsEnded = %d, want 2", out.SignOutEverywhere.SessionsEnded)
		}
		for _, tok := range []string{u.RefreshToken, login.Login.RefreshToken} {
			if a, _ := refreshOnce(t, e, tok); a != "" {
				t.Fatal("a refresh token survived signOutEverywhere")
			}
		}
		for _, tok := range []string{u.AccessToken, login.Login.AccessToken} {
			if !sessionRevoked(t, e, tok) {
				t.Fatal("an access token of an ended session still changes credentials")
			}
			r := e.Do(t, tok, `mutation($in: TopUpInput!){ topUp(input:$in) { userErrors { code } } }`,
				map[string]any{"in": map[string]any{"bankCardId": "bcd_01HZZZZZZZZZZZZZZZZZZZZZZZ", "amount": "1.00", "currency": "CNY", "idempotencyKey": "k-1"}})
			if got := r.Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" || r.Errors[0].Extensions["reason"] != "SESSION_REVOKED" {
				t.Fatalf("topUp under an ended session: %v", r.Errors)
			}
			if r := e.Do(t, tok, meQuery, nil); len(r.Errors) > 0 {
				t.Fatalf("reads must keep working until expiry: %v", r.Codes())
			}
		}
		if sessionRevoked(t, e, other.AccessToken) {
			t.Fatal("another user's session was ended")
		}
		if a, _ := refreshOnce(t, e, other.RefreshToken); a == "" {
			t.Fatal("another user's refresh token was revoked")
		}
	})
}

// TestRevokingPasskeyEndsItsSessions signs in with a passkey, revokes it
// from the password session and checks that the passkey's session is over
// while the password session goes on.
func TestRevokingPasskeyEndsItsSessions(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		a := e.Authenticator()
		pk := e.AddPasskey(t, u, a)
		assertion, err := a.Assert(e.BeginPasskeyLogin(t), softauthn.AssertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl := e.FinishPasskeyLogin(t, assertion)
		if pl.AccessToken == "" {
			t.Fatalf("passkey login: %+v", pl.UserErrors)
		}
		if sessionRevoked(t, e, pl.AccessToken) {
			t.Fatal("fresh passkey session refused")
		}
		var out struct {
			RevokePasskey struct{ UserErrors []testenv.UserError }
		}
		e.Do(t, u.AccessToken, `mutation($id: ID!){ revokePasskey(input:{id:$id}) { userErrors { code } } }`,
			map[string]any{"id": pk}).Decode(t, &out)
		if len(out.RevokePasskey.UserErrors) > 0 {
			t.Fatalf("revokePasskey: %+v", out.RevokePasskey.UserErrors)
		}
		if a, _ := refreshOnce(t, e, pl.RefreshToken); a != "" {
			t.Fatal("the revoked passkey's refresh token still works")
		}
		if !sessionRevoked(t, e, pl.AccessToken) {
			t.Fatal("the revoked passkey's access token still changes credentials")
		}
		if sessionRevoked(t, e, u.AccessToken) {
			t.Fatal("the password session was ended with the passkey")
		}
	})
}

// TestPasskeyCapUnderConcurrency fills the account to one below the cap,
// then lets a second registration run while the first is about to store
// its passkey (after counting the live ones): only one may succeed. On
// PostgreSQL without a lock both counted 19 and both stored theirs.
func TestPasskeyCapUnderConcurrency(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d, testenv.With("DANBAO_MUTATION_RATE", "0"))
		u := e.Register(t)
		const maxPasskeys = 20
		for i := 0; i < maxPasskeys-1; i++ {
			e.AddPasskey(t, u, e.Authenticator())
		}
		var creds [2][]byte
		for i := range creds {
			c, _, err := e.Authenticator().Register(e.BeginPasskeyRegistration(t, u), softauthn.RegisterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			creds[i] = c
		}
		var fired atomic.Bool
		secondDone := make(chan struct{})
		e.App.DB.Client.Passkey.Use(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpCreate) && fired.CompareAndSwap(false, true) {
					go func() {
						defer close(secondDone)
						e.FinishPasskeyRegistration(t, u, creds[1], "second")
					}()
					// Give the second registration the chance to finish
					// first; with the lock it waits for this one instead.
					select {
					case <-secondDone:
					case <-time.After(time.Second):
					}
				}
				return next.Mutate(ctx, m)
			})
		})
		e.FinishPasskeyRegistration(t, u, creds[0], "first")
		<-secondDone
		n, err := e.App.DB.Client.Passkey.Query().
			Where(passkey.UserID(pulid.ID(u.ID)), passkey.RevokedAtIsNil()).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != maxPasskeys {
			t.Fatalf("%d active passkeys after two concurrent registrations, want exactly %d", n, maxPasskeys)
		}
	})
}
