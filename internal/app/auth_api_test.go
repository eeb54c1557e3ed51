package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"danbao/auth"
	"danbao/ent/schema/pulid"
	"danbao/internal/testenv"

	"github.com/golang-jwt/jwt/v5"
)

const meQuery = `{ me { id phone displayName role } }`

func userCount(t *testing.T, e *testenv.Env) int {
	t.Helper()
	n, err := e.App.DB.Client.User.Query().Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func firstUserError(t *testing.T, r *testenv.Response, field string) map[string]any {
	t.Helper()
	var out map[string]struct {
		UserErrors []map[string]any `json:"userErrors"`
	}
	r.Decode(t, &out)
	ues := out[field].UserErrors
	if len(ues) == 0 {
		t.Fatalf("%s: expected a userError, got none: %s", field, r.Data)
	}
	return ues[0]
}

func TestSignInFlow(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)

		var me struct {
			Me struct{ ID, Phone, DisplayName, Role string }
		}
		e.Do(t, u.AccessToken, meQuery, nil).Decode(t, &me)
		if me.Me.ID != u.ID || me.Me.Phone != u.Phone || me.Me.Role != "USER" {
			t.Fatalf("me = %+v, want %s %s USER", me.Me, u.ID, u.Phone)
		}

		// Login with the password, with separators in the phone.
		spaced := u.Phone[:3] + " " + u.Phone[3:7] + "-" + u.Phone[7:]
		r := e.Do(t, "", `mutation($p:String!,$w:String!){ login(input:{phone:$p,password:$w}) { accessToken refreshToken expiresAt user { id } userErrors { code } } }`,
			map[string]any{"p": spaced, "w": u.Password})
		var login struct {
			Login struct {
				AccessToken, RefreshToken string
				ExpiresAt                 time.Time
				User                      struct{ ID string }
			}
		}
		r.Decode(t, &login)
		if login.Login.User.ID != u.ID || login.Login.AccessToken == "" {
			t.Fatalf("login = %+v", login)
		}
		if ttl := time.Until(login.Login.ExpiresAt); ttl < 14*time.Minute || ttl > 16*time.Minute {
			t.Fatalf("access token lives %v, want 15m", ttl)
		}

		// Signed out: me is UNAUTHENTICATED at the top level.
		if got := e.Do(t, "", meQuery, nil).Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Fatalf("me without token: codes %v", got)
		}
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		refresh := func(tok string) *testenv.Response {
			return e.Do(t, "", `mutation($t:String!){ refreshToken(input:{refreshToken:$t}) { accessToken refreshToken userErrors { code } } }`,
				map[string]any{"t": tok})
		}
		var out struct {
			RefreshToken struct{ AccessToken, RefreshToken string }
		}
		refresh(u.RefreshToken).Decode(t, &out)
		second := out.RefreshToken.RefreshToken
		if second == "" || second == u.RefreshToken {
			t.Fatalf("refresh did not rotate: %q", second)
		}
		// The new access token works.
		if r := e.Do(t, out.RefreshToken.AccessToken, meQuery, nil); len(r.Errors) > 0 {
			t.Fatalf("rotated access token refused: %v", r.Codes())
		}
		// Reusing the first token is refused and revokes the family...
		if got := refresh(u.RefreshToken).Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Fatalf("reused refresh token: codes %v", got)
		}
		// ...so the newest token stops working too.
		if got := refresh(second).Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Fatalf("newest token after reuse: codes %v", got)
		}
		// A garbage token is refused the same way.
		if got := refresh("rt_nonsense").Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Fatalf("unknown refresh token: codes %v", got)
		}
	})
}

func TestLogoutRevokesSession(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		var out struct{ Logout struct{ Revoked bool } }
		e.Do(t, "", `mutation($t:String!){ logout(input:{refreshToken:$t}) { revoked userErrors { code } } }`,
			map[string]any{"t": u.RefreshToken}).Decode(t, &out)
		if !out.Logout.Revoked {
			t.Fatal("logout did not revoke")
		}
		r := e.Do(t, "", `mutation($t:String!){ refreshToken(input:{refreshToken:$t}) { accessToken } }`, map[string]any{"t": u.RefreshToken})
		if got := r.Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
			t.Fatalf("refresh after logout: codes %v", got)
		}
		// Logging out again reports nothing revoked.
		e.Do(t, "", `mutation($t:String!){ logout(input:{refreshToken:$t}) { revoked } }`,
			map[string]any{"t": u.RefreshToken}).Decode(t, &out)
		if out.Logout.Revoked {
			t.Fatal("second logout claims to revoke")
		}
	})
}

// TestForgedTokens presents tokens that fail each check; every one must be
// refused with UNAUTHENTICATED, while a correctly made one is accepted (so
// the forging helper itself is sound).
func TestForgedTokens(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	u := e.Register(t)
	kid := auth.Thumbprint(&e.Key.PublicKey)
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": u.ID, "role": "USER", "iss": "danbao", "aud": []string{"danbao-api"},
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	sign := func(claims jwt.MapClaims, mutate func(*jwt.Token)) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = kid
		if mutate != nil {
			mutate(tok)
		}
		s, err := tok.SignedString(e.Key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&e.Key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	if r := e.Do(t, sign(good(), nil), meQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("a correctly signed token was refused: %v", r.Codes())
	}
	cases := map[string]string{
		"alg none": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(),
		"HS256 with the public key": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, good())
			tok.Header["kid"] = kid
			s, _ := tok.SignedString(pubPEM)
			return s
		}(),
		"expired": func() string {
			c := good()
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-10*time.Minute).Unix()
			return sign(c, nil)
		}(),
		"missing exp": func() string { c := good(); delete(c, "exp"); return sign(c, nil) }(),
		"wrong aud":   func() string { c := good(); c["aud"] = []string{"someone-else"}; return sign(c, nil) }(),
		"wrong iss":   func() string { c := good(); c["iss"] = "evil"; return sign(c, nil) }(),
		"unknown kid": sign(good(), func(tk *jwt.Token) { tk.Header["kid"] = "nope" }),
		"no kid":      sign(good(), func(tk *jwt.Token) { delete(tk.Header, "kid") }),
		"signed by another key": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, good())
			tok.Header["kid"] = kid
			s, _ := tok.SignedString(otherKey)
			return s
		}(),
		"tampered payload": func() string {
			s := sign(good(), nil)
			parts := strings.Split(s, ".")
			c := good()
			c["role"] = "OPERATOR"
			forged := sign(c, nil)
			return parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
		}(),
		"garbage": "not.a.jwt",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.Do(t, tok, meQuery, nil)
			if got := r.Codes(); len(got) != 1 || got[0] != "UNAUTHENTICATED" {
				t.Fatalf("codes %v, want [UNAUTHENTICATED]", got)
			}
		})
	}
}

func TestRegisterBadInputChangesNothing(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		existing := e.Register(t)
		before := userCount(t, e)
		reg := `mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id } userErrors { code message field } } }`
		cases := []struct {
			name, phone, password, display, code, field string
		}{
			{"malformed phone", "13800138000", "long enough pw", "A", "INVALID_INPUT", "phone"},
			{"phone with letters", "+86138abc38000", "long enough pw", "A", "INVALID_INPUT", "phone"},
			{"phone too long", "+8613800138000123", "long enough pw", "A", "INVALID_INPUT", "phone"},
			{"short password", testenv.NewPhone(), "short", "A", "INVALID_INPUT", "password"},
			{"empty display name", testenv.NewPhone(), "long enough pw", "  ", "INVALID_INPUT", "displayName"},
			{"duplicate phone", existing.Phone, "long enough pw", "A", "ALREADY_EXISTS", "phone"},
		}
		for _, c := range cases {
			r := e.Do(t, "", reg, map[string]any{"in": map[string]any{"phone": c.phone, "password": c.password, "displayName": c.display}})
			ue := firstUserError(t, r, "register")
			if ue["code"] != c.code {
				t.Errorf("%s: code %v, want %s", c.name, ue["code"], c.code)
			}
			if f, _ := ue["field"].([]any); len(f) != 2 || f[1] != c.field {
				t.Errorf("%s: field %v, want [input %s]", c.name, ue["field"], c.field)
			}
		}
		// Wrong types and missing fields are refused by validation.
		for name, q := range map[string]string{
			"number for phone": `mutation { register(input:{phone: 5, password:"long enough pw", displayName:"A"}) { accessToken } }`,
			"missing password": `mutation { register(input:{phone:"+8613900000000", displayName:"A"}) { accessToken } }`,
			"unknown field":    `mutation { register(input:{phone:"+8613900000000", password:"long enough pw", displayName:"A", admin:true}) { accessToken } }`,
			"syntax error":     `mutation { register(input:{phone:"+8613900000000" { accessToken } }`,
		} {
			r := e.Do(t, "", q, nil)
			if got := r.Codes(); len(got) == 0 || (got[0] != "GRAPHQL_VALIDATION_FAILED" && got[0] != "GRAPHQL_PARSE_FAILED") {
				t.Errorf("%s: codes %v", name, got)
			}
		}
		// Variables of the wrong type.
		r := e.Do(t, "", reg, map[string]any{"in": map[string]any{"phone": map[string]any{"x": 1}, "password": "long enough pw", "displayName": "A"}})
		if got := r.Codes(); len(got) == 0 || got[0] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("object for a string variable: codes %v", got)
		}
		// A number where a string is expected is coerced to its digits, which
		// are no E.164 phone.
		r = e.Do(t, "", reg, map[string]any{"in": map[string]any{"phone": 8613900000000, "password": "long enough pw", "displayName": "A"}})
		if ue := firstUserError(t, r, "register"); ue["code"] != "INVALID_INPUT" {
			t.Errorf("number for phone: %v", ue)
		}
		// Malformed JSON bodies get 400 with a stable code and no echo.
		for _, body := range []string{`{"query": "{ me { id } }"`, `not json at all SECRET`, `{"query": 5}`, `[]`} {
			r := e.Post(t, "", "application/json", []byte(body))
			if r.Status != 400 || len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_REQUEST" {
				t.Errorf("body %q: status %d codes %v", body, r.Status, r.Codes())
			}
			if strings.Contains(r.Errors[0].Message, "SECRET") {
				t.Errorf("body echoed back: %q", r.Errors[0].Message)
			}
		}
		if after := userCount(t, e); after != before {
			t.Fatalf("bad input changed the user count: %d -> %d", before, after)
		}
	})
}

func TestLoginLockout(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		login := func(pw string) *testenv.Response {
			return e.Do(t, "", `mutation($p:String!,$w:String!){ login(input:{phone:$p,password:$w}) { accessToken userErrors { code extensions } } }`,
				map[string]any{"p": u.Phone, "w": pw})
		}
		for i := 0; i < auth.FreeFailures-1; i++ {
			if ue := firstUserError(t, login("wrong password!"), "login"); ue["code"] != "INVALID_CREDENTIALS" {
				t.Fatalf("failure %d: %v", i+1, ue)
			}
		}
		// The fifth failure locks the phone; then even the right password
		// is refused with RATE_LIMITED and a retry hint.
		login("wrong password!")
		ue := firstUserError(t, login(u.Password), "login")
		if ue["code"] != "RATE_LIMITED" {
			t.Fatalf("locked login: %v", ue)
		}
		if ext, _ := ue["extensions"].(map[string]any); ext["retryAfterSeconds"] == nil {
			t.Fatalf("no retryAfterSeconds in %v", ue)
		}
	})
}

// TestLoginLockoutCountsAliases: ten aliased login attempts in one request
// count as ten failures, so the later ones are already locked out.
func TestLoginLockoutCountsAliases(t *testing.T) {
	// The per-phone request budget is off: this is about the lockout.
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
	u := e.Register(t)
	var b strings.Builder
	b.WriteString("mutation {")
	for i := 0; i < 10; i++ {
		b.WriteString(` a` + string(rune('0'+i)) + `: login(input:{phone:"` + u.Phone + `", password:"guess number ` + string(rune('0'+i)) + `"}) { accessToken userErrors { code } }`)
	}
	b.WriteString("}")
	r := e.Do(t, "", b.String(), nil)
	var rateLimited, invalid int
	var data map[string]struct {
		UserErrors []struct{ Code string }
	}
	_ = jsonUnmarshal(r.Data, &data)
	for _, v := range data {
		if len(v.UserErrors) > 0 && v.UserErrors[0].Code == "RATE_LIMITED" {
			rateLimited++
		}
		if len(v.UserErrors) > 0 && v.UserErrors[0].Code == "INVALID_CREDENTIALS" {
			invalid++
		}
	}
	// Failures 1-4 are INVALID_CREDENTIALS; the fifth locks the phone and
	// every attempt from then on is RATE_LIMITED, each in its own payload.
	want := auth.FreeFailures - 1
	if len(r.Errors) != 0 || invalid != want || rateLimited != 10-want {
		t.Fatalf("got %d INVALID_CREDENTIALS and %d RATE_LIMITED (top-level %v), want %d and %d", invalid, rateLimited, r.Codes(), want, 10-want)
	}
}

func pulidOf(s string) pulid.ID { return pulid.ID(s) }

// TestLoginLockoutUnderParallelGuesses: 40 wrong passwords at once for one
// phone get at most FreeFailures password checks; the rest are refused
// before their password is looked at. Then the right password is refused
// too while the lock holds.
func TestLoginLockoutUnderParallelGuesses(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		// The per-phone request budget is off: this is about the lockout.
		e := testenv.New(t, d, testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
		u := e.Register(t)
		before := e.App.Auth.PasswordChecks()
		var wg sync.WaitGroup
		codes := make([]string, 40)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Do(t, "", `mutation($p:String!){ login(input:{phone:$p,password:"not the password"}) { accessToken userErrors { code } } }`, map[string]any{"p": u.Phone})
				if len(r.Errors) > 0 {
					codes[i] = r.Errors[0].Code()
					return
				}
				var out struct{ Login payload }
				_ = jsonUnmarshal(r.Data, &out)
				codes[i] = out.Login.code()
			}()
		}
		wg.Wait()
		if checked := e.App.Auth.PasswordChecks() - before; checked > auth.FreeFailures {
			t.Fatalf("%d passwords checked in parallel, at most %d allowed", checked, auth.FreeFailures)
		}
		for _, c := range codes {
			if c != "INVALID_CREDENTIALS" && c != "RATE_LIMITED" {
				t.Fatalf("code %q", c)
			}
		}
		var out struct{ Login payload }
		r := e.Do(t, "", `mutation($p:String!,$w:String!){ login(input:{phone:$p,password:$w}) { accessToken userErrors { code } } }`, map[string]any{"p": u.Phone, "w": u.Password})
		_ = jsonUnmarshal(r.Data, &out)
		if out.Login.code() != "RATE_LIMITED" {
			t.Fatalf("right password during the lock: %v %v", out.Login, r.Codes())
		}
	})
}

// TestPasskeyRegistrationNeedsRecentSignIn: adding a passkey takes a
// sign-in of the last 10 minutes; a refreshed token keeps its session's
// sign-in time, so a stolen refresh token cannot add one later.
func TestPasskeyRegistrationNeedsRecentSignIn(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		u := e.Register(t)
		begin := func(token string) []string {
			return e.Do(t, token, `mutation { beginPasskeyRegistration { options userErrors { code } } }`, nil).Codes()
		}
		if got := begin(u.AccessToken); len(got) != 0 {
			t.Fatalf("fresh sign-in refused: %v", got)
		}
		kid := auth.Thumbprint(&e.Key.PublicKey)
		// The forged tokens name the user's live session, so that only
		// their sign-in time is in question.
		var live auth.Claims
		if _, _, err := jwt.NewParser().ParseUnverified(u.AccessToken, &live); err != nil || live.SessionID == "" {
			t.Fatalf("access token without a session ID (%v)", err)
		}
		sign := func(authTime *time.Time) string {
			c := jwt.MapClaims{"sub": u.ID, "role": "USER", "iss": "danbao", "aud": []string{"danbao-api"},
				"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(), "sid": live.SessionID}
			if authTime != nil {
				c["auth_time"] = authTime.Unix()
			}
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
			tok.Header["kid"] = kid
			s, err := tok.SignedString(e.Key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		old := time.Now().Add(-20 * time.Minute)
		for name, tok := range map[string]string{"old sign-in": sign(&old), "no auth_time": sign(nil)} {
			if got := begin(tok); len(got) != 1 || got[0] != "REAUTHENTICATION_REQUIRED" {
				t.Errorf("%s: %v", name, got)
			}
		}
		// Age the session, then refresh: the new token is not a new sign-in.
		if _, err := e.App.DB.SQL.Exec(rebind(d, "UPDATE auth_sessions SET created_at = ? WHERE user_id = ?"), old.UTC(), u.ID); err != nil {
			t.Fatal(err)
		}
		var out struct{ RefreshToken struct{ AccessToken string } }
		e.Do(t, "", `mutation($t:String!){ refreshToken(input:{refreshToken:$t}) { accessToken } }`, map[string]any{"t": u.RefreshToken}).Decode(t, &out)
		if got := begin(out.RefreshToken.AccessToken); len(got) != 1 || got[0] != "REAUTHENTICATION_REQUIRED" {
			t.Fatalf("refreshed token of an old session: %v", got)
		}
		// Signing in again allows it.
		var login struct{ Login struct{ AccessToken string } }
		e.Do(t, "", `mutation($p:String!,$w:String!){ login(input:{phone:$p,password:$w}) { accessToken } }`,
			map[string]any{"p": u.Phone, "w": u.Password}).Decode(t, &login)
		if got := begin(login.Login.AccessToken); len(got) != 0 {
			t.Fatalf("after signing in again: %v", got)
		}
	})
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(d testenv.Dialect, q string) string {
	if d != testenv.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
