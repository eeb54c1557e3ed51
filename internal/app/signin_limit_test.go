package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"danbao/internal/app"
	"danbao/internal/testenv"
)

func loginCodes(t *testing.T, e *testenv.Env, token, phone, password string) []string {
	t.Helper()
	return e.Do(t, token, loginMutation, map[string]any{"p": phone, "w": password}).Codes()
}

// TestSignInCountedPerPhoneWhateverTheToken: a signed-in caller gets no
// fresh sign-in budget per account it signs in with; the phone's budget
// is spent whoever asks.
func TestSignInCountedPerPhoneWhateverTheToken(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_SIGNIN_PHONE_RATE", "4"))
	victim := e.Register(t) // the phone's first sign-in mutation
	for i := 0; i < 3; i++ {
		caller := e.Register(t) // a fresh throwaway account each time
		if got := loginCodes(t, e, caller.AccessToken, victim.Phone, "wrong password!"); len(got) > 0 && got[0] == "RATE_LIMITED" {
			t.Fatalf("attempt %d limited early", i+1)
		}
	}
	caller := e.Register(t)
	if got := loginCodes(t, e, caller.AccessToken, victim.Phone, "wrong password!"); len(got) != 1 || got[0] != "RATE_LIMITED" {
		t.Fatalf("fifth sign-in on one phone: codes %v", got)
	}
	// Another phone from the same address still signs in.
	other := e.Register(t)
	if got := loginCodes(t, e, "", other.Phone, other.Password); len(got) != 0 {
		t.Fatalf("other phone: codes %v", got)
	}
}

// TestOneClientCannotLockOutItsAddress: a client that spends the signed-out
// mutation budget of a shared address does not stop the others' sign-ins;
// the generous per-address sign-in budget still ends.
func TestOneClientCannotLockOutItsAddress(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_MUTATION_RATE", "3"), testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "6"))
	for i := 0; i < 4; i++ {
		e.Do(t, "", `mutation { beginPasskeyLogin { options } }`, nil)
	}
	if got := e.Do(t, "", `mutation { beginPasskeyLogin { options } }`, nil).Codes(); len(got) != 1 || got[0] != "RATE_LIMITED" {
		t.Fatalf("noisy client not limited: %v", got)
	}
	u := e.Register(t) // sign-in 1
	if got := loginCodes(t, e, "", u.Phone, u.Password); len(got) != 0 {
		t.Fatalf("sign-in from the shared address refused: %v", got)
	}
	for i := 0; i < 4; i++ { // sign-ins 3..6
		loginCodes(t, e, "", testenv.NewPhone(), "wrong password!")
	}
	if got := loginCodes(t, e, "", u.Phone, u.Password); len(got) != 1 || got[0] != "RATE_LIMITED" {
		t.Fatalf("seventh sign-in from one address: codes %v", got)
	}
}

// TestConcurrentLoginsBoundedHashing: 110 logins at once never hash more
// passwords at a time than the gate's slots; the ones over capacity are
// refused with RATE_LIMITED, the rest succeed.
func TestConcurrentLoginsBoundedHashing(t *testing.T) {
	e := testenv.New(t, testenv.SQLite, testenv.With("DANBAO_SIGNIN_ADDRESS_RATE", "0"), testenv.With("DANBAO_SIGNIN_PHONE_RATE", "0"))
	u := e.Register(t)
	var wg sync.WaitGroup
	codes := make(chan string, 110)
	for i := 0; i < 110; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := e.Do(t, "", loginMutation, map[string]any{"p": u.Phone, "w": u.Password}).Codes()
			codes <- strings.Join(got, ",")
		}()
	}
	wg.Wait()
	close(codes)
	counts := map[string]int{}
	for c := range codes {
		counts[c]++
	}
	if counts[""]+counts["RATE_LIMITED"] != 110 || counts[""] == 0 {
		t.Fatalf("outcomes %v", counts)
	}
	g := e.App.Auth.Hashes()
	if g.Peak() > g.Slots() {
		t.Fatalf("%d hashes at once, gate of %d", g.Peak(), g.Slots())
	}
}

// TestBodyWithTooManyValuesRefused: variables holding a 520,000-element
// array (1 MiB) are refused before decoding with 413 REQUEST_TOO_LARGE;
// a body within the bound is served.
func TestBodyWithTooManyValuesRefused(t *testing.T) {
	e := testenv.New(t, testenv.SQLite)
	body := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"query":"{ __typename }","variables":{"x":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('1')
		}
		b.WriteString(`]}}`)
		return b.Bytes()
	}
	big := body(520000)
	if len(big) > 1<<20 {
		t.Fatalf("test body is %d bytes, over the body limit", len(big))
	}
	r := e.Post(t, "", "application/json", big)
	if r.Status != 413 || len(r.Errors) != 1 || r.Errors[0].Code() != "REQUEST_TOO_LARGE" {
		t.Fatalf("520k values: status %d codes %v", r.Status, r.Codes())
	}
	r = e.Post(t, "", "application/json", body(app.MaxBodyValues-100))
	if r.Status != 200 || len(r.Errors) != 0 {
		t.Fatalf("%d values: status %d codes %v", app.MaxBodyValues-100, r.Status, r.Codes())
	}
	// Commas and brackets inside strings are not values.
	q := fmt.Sprintf(`{"query":"{ __typename }","variables":{"s":%q}}`, strings.Repeat(",[{", 20000))
	if r := e.Post(t, "", "application/json", []byte(q)); r.Status != 200 {
		t.Fatalf("punctuation in a string: status %d codes %v", r.Status, r.Codes())
	}
	// A GET's variables the same (found in review: not counted).
	vars := func(n int) string { return `{"x":[1` + strings.Repeat(",1", n-1) + `]}` }
	for _, c := range []struct {
		n      int
		status int
	}{{app.MaxBodyValues + 100, 413}, {app.MaxBodyValues - 100, 200}} {
		resp, err := http.Get(e.Server.URL + "/graphql?" + url.Values{"query": {"{ __typename }"}, "variables": {vars(c.n)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var out testenv.Response
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.status == 413 && !slices.Equal(out.Codes(), []string{"REQUEST_TOO_LARGE"})) {
			t.Fatalf("GET with %d values in its variables: %d %v, want %d", c.n, resp.StatusCode, out.Codes(), c.status)
		}
	}
}
