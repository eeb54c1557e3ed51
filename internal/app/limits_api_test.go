package app_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"danbao/ent/limitusage"
	"danbao/internal/softauthn"
	"danbao/internal/testenv"
)

// newDailyEnv is an escrow instance whose daily limit defaults to 300.00
// CNY with a 600.00 maximum, so that the level I lifetime limit (1,000.00)
// does not bind first.
func newDailyEnv(t *testing.T, d testenv.Dialect) *escrowEnv {
	t.Helper()
	return newEscrowEnv(t, d, testenv.With("DANBAO_DAILY_LIMIT_DEFAULT_CNY", "300.00"),
		testenv.With("DANBAO_DAILY_LIMIT_MAX_CNY", "600.00"))
}

// fundedBuyer is a funded level I user with a passkey, and their card.
func (e *escrowEnv) fundedBuyer(t *testing.T, amount string) (buyer, string) {
	t.Helper()
	u, card := funded(t, e.Env, amount)
	a := e.Authenticator()
	e.AddPasskey(t, u, a)
	return buyer{User: u, auth: a}, card
}

type dailyView struct {
	Name, Limit, Maximum, Used, Remaining, Currency string
	Chosen                                          bool
	ResetsAt                                        *time.Time
}

const dailyFields = `name limit maximum chosen used remaining currency resetsAt`

func meDaily(t *testing.T, e *escrowEnv, u *testenv.User) dailyView {
	t.Helper()
	var out struct {
		Me struct{ Limits struct{ Daily []dailyView } }
	}
	e.Do(t, u.AccessToken, `{ me { limits { daily { `+dailyFields+` } } } }`, nil).Decode(t, &out)
	if len(out.Me.Limits.Daily) != 1 {
		t.Fatalf("me.limits.daily = %+v, want one CNY entry", out.Me.Limits.Daily)
	}
	return out.Me.Limits.Daily[0]
}

func setDaily(t *testing.T, e *escrowEnv, u *testenv.User, currency, amount string) (*dailyView, []userError) {
	t.Helper()
	var out struct {
		SetDailyLimit struct {
			DailyLimit *dailyView
			UserErrors []userError
		}
	}
	e.Do(t, u.AccessToken, `mutation($in: SetDailyLimitInput!){ setDailyLimit(input:$in) { dailyLimit { `+dailyFields+` } userErrors { code field extensions } } }`,
		map[string]any{"in": map[string]any{"currency": currency, "amount": amount}}).Decode(t, &out)
	return out.SetDailyLimit.DailyLimit, out.SetDailyLimit.UserErrors
}

func wantDailyRefusal(t *testing.T, what string, ues []userError, currency, remaining, maxDaily string) {
	t.Helper()
	if len(ues) != 1 || ues[0].Code != "LIMIT_EXCEEDED" {
		t.Fatalf("%s: userErrors %+v, want LIMIT_EXCEEDED", what, ues)
	}
	ext := ues[0].Extensions
	if ext["currency"] != currency || ext["remaining"] != remaining {
		t.Errorf("%s: extensions %v, want remaining %s %s", what, ext, remaining, currency)
	}
	if maxDaily == "" {
		return
	}
	if ext["limit"] != "DAILY_AUTHORIZED_PAYMENTS" || ext["maxDailyLimit"] != maxDaily {
		t.Errorf("%s: extensions %v, want DAILY_AUTHORIZED_PAYMENTS with maxDailyLimit %s", what, ext, maxDaily)
	}
}

// TestDailyLimitAPI: payments authorized with a passkey and withdrawals
// count against one daily limit; a refusal moves and counts nothing and
// says what remains and how high the limit may be raised; setDailyLimit
// raises it within the maximum; me.limits shows the day's figures; a
// currency without a configured limit is refused for withdrawals.
func TestDailyLimitAPI(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newDailyEnv(t, d)
		b, card := e.fundedBuyer(t, "1000.00")
		seller := e.RegisterVerified(t)

		if got := meDaily(t, e, b.User); got.Name != "DAILY_AUTHORIZED_PAYMENTS" || got.Limit != "300.00" || got.Maximum != "600.00" ||
			got.Chosen || got.Used != "0.00" || got.Remaining != "300.00" || got.Currency != "CNY" || got.ResetsAt == nil || !got.ResetsAt.After(time.Now()) {
			t.Fatalf("me.limits.daily at the start: %+v", got)
		}
		e.pay(t, b, seller, "200.00")

		// A payment over what remains today: refused, nothing moved.
		c := e.create(t, b, seller, "150.00", "over-1")
		if c.code() != "" {
			t.Fatalf("createPayment: %+v", c)
		}
		r := e.authorize(t, b, c.Payment.ID, c.Options, "auth-over-1")
		wantDailyRefusal(t, "authorizePayment", r.UserErrors, "CNY", "100.00", "600.00")
		if p := e.payment(t, b.User, c.Payment.ID); p.Status != "CREATED" {
			t.Fatalf("refused payment is %s", p.Status)
		}
		// A withdrawal counts against the same day.
		w := withdraw(t, e.Env, b.User, card, "150.00", "w-over")
		if w.code() != "LIMIT_EXCEEDED" {
			t.Fatalf("withdraw over the daily limit: %+v", w)
		}
		wantDailyRefusal(t, "withdraw", toUserErrors(w), "CNY", "100.00", "600.00")
		// A currency with no limit configured may not leave the balance.
		usd := moneyOp(t, e.Env, b.AccessToken, withdrawMutation, "withdraw",
			map[string]any{"bankCardId": card, "amount": "1.00", "currency": "USD", "idempotencyKey": "w-usd"})
		wantDailyRefusal(t, "withdraw USD", toUserErrors(usd), "USD", "0.00", "")
		if got := e.available(t, b.User); got != "800.00" {
			t.Fatalf("available %s after refusals, want 800.00", got)
		}
		if got := meDaily(t, e, b.User); got.Used != "200.00" || got.Remaining != "100.00" {
			t.Fatalf("me.limits.daily after refusals: %+v", got)
		}

		// Raising: above the maximum is refused, within it applies at once.
		if dl, ues := setDaily(t, e, b.User, "CNY", "600.01"); dl != nil || len(ues) != 1 || ues[0].Code != "INVALID_INPUT" ||
			ues[0].Extensions["maxDailyLimit"] != "600.00" {
			t.Fatalf("setDailyLimit above the maximum: %+v %+v", dl, ues)
		}
		if dl, ues := setDaily(t, e, b.User, "USD", "1.00"); dl != nil || len(ues) != 1 || ues[0].Code != "INVALID_INPUT" {
			t.Fatalf("setDailyLimit in USD: %+v %+v", dl, ues)
		}
		// An amount is a decimal string: a JSON number is refused (found
		// in review: the input was a String and 1000 was taken as 1000.00).
		resp := e.Do(t, b.User.AccessToken, `mutation($in: SetDailyLimitInput!){ setDailyLimit(input:$in) { userErrors { code } } }`,
			map[string]any{"in": map[string]any{"currency": "CNY", "amount": 400}})
		if !slices.Equal(resp.Codes(), []string{"INVALID_INPUT"}) {
			t.Fatalf("setDailyLimit with a JSON number: %v %s, want INVALID_INPUT", resp.Codes(), resp.Data)
		}
		dl, ues := setDaily(t, e, b.User, "CNY", "400.00")
		if len(ues) != 0 || dl == nil || dl.Limit != "400.00" || !dl.Chosen || dl.Used != "200.00" || dl.Remaining != "200.00" {
			t.Fatalf("setDailyLimit 400.00: %+v %+v", dl, ues)
		}
		e.pay(t, b, seller, "150.00")
		if w := withdraw(t, e.Env, b.User, card, "50.00", "w-fits"); w.code() != "" {
			t.Fatalf("withdraw within the raised limit: %+v", w)
		}
		last := withdraw(t, e.Env, b.User, card, "0.01", "w-last")
		wantDailyRefusal(t, "withdraw past the raised limit", toUserErrors(last), "CNY", "0.00", "600.00")
		if got := meDaily(t, e, b.User); got.Limit != "400.00" || !got.Chosen || got.Used != "400.00" || got.Remaining != "0.00" {
			t.Fatalf("me.limits.daily at the end: %+v", got)
		}
		if got := e.available(t, b.User); got != "600.00" {
			t.Fatalf("available %s, want 600.00", got)
		}
		verifyOK(t, e.Env)
	})
}

// toUserErrors converts a money operation's userErrors.
func toUserErrors(r opResult) []userError {
	var out []userError
	for _, u := range r.UserErrors {
		out = append(out, userError{Code: u.Code, Field: u.Field, Extensions: u.Extensions})
	}
	return out
}

// TestConcurrentDailyLimit: 20 withdrawals, and 20 passkey authorizations,
// of 50.00 each at once against a 300.00 daily limit: exactly 6 of each
// succeed, the rest are LIMIT_EXCEEDED on the daily limit, and the day's
// counter and the balance agree, on SQLite and PostgreSQL.
func TestConcurrentDailyLimit(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := newDailyEnv(t, d)
		const n, fit = 20, 6

		tally := func(what string, codes []string, exts []map[string]any) {
			t.Helper()
			ok, over := 0, 0
			for i, c := range codes {
				switch c {
				case "":
					ok++
				case "LIMIT_EXCEEDED":
					over++
					if exts[i]["limit"] != "DAILY_AUTHORIZED_PAYMENTS" {
						t.Errorf("%s: refused on %v, want DAILY_AUTHORIZED_PAYMENTS", what, exts[i])
					}
				default:
					t.Errorf("%s: unexpected %s", what, c)
				}
			}
			if ok != fit || over != n-fit {
				t.Fatalf("%s: %d passed and %d were refused; want %d and %d", what, ok, over, fit, n-fit)
			}
		}

		// Withdrawals.
		w, card := e.fundedBuyer(t, "1000.00")
		codes, exts := make([]string, n), make([]map[string]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := withdraw(t, e.Env, w.User, card, "50.00", fmt.Sprintf("cw-%d", i))
				codes[i] = r.code()
				if len(r.UserErrors) > 0 {
					exts[i] = r.UserErrors[0].Extensions
				}
			})
		}
		wg.Wait()
		tally("withdrawals", codes, exts)
		if got := e.available(t, w.User); got != "700.00" {
			t.Fatalf("available %s after the withdrawals, want 700.00", got)
		}
		dailyUsage(t, e, w.User, 300_00)

		// Payment authorizations: assertions made one by one (counter 0,
		// as an authenticator without a counter), sent at once.
		b, _ := e.fundedBuyer(t, "1000.00")
		seller := e.RegisterVerified(t)
		ids, creds := make([]string, n), make([][]byte, n)
		zero := uint32(0)
		for i := range n {
			c := e.create(t, b, seller, "50.00", fmt.Sprintf("cp-%d", i))
			if c.code() != "" {
				t.Fatalf("createPayment: %+v", c)
			}
			cred, err := b.auth.Assert(c.Options, softauthn.AssertOptions{SignCount: &zero})
			if err != nil {
				t.Fatal(err)
			}
			ids[i], creds[i] = c.Payment.ID, cred
		}
		codes, exts = make([]string, n), make([]map[string]any, n)
		for i := range n {
			wg.Go(func() {
				r := e.authorizeWith(t, b, ids[i], creds[i], "ca-"+ids[i])
				codes[i] = r.code()
				if len(r.UserErrors) > 0 {
					exts[i] = r.UserErrors[0].Extensions
				}
			})
		}
		wg.Wait()
		tally("authorizations", codes, exts)
		paid := 0
		for _, id := range ids {
			if e.payment(t, b.User, id).Status == "PAID" {
				paid++
			}
		}
		if paid != fit {
			t.Fatalf("%d payments PAID, want %d", paid, fit)
		}
		if got := e.available(t, b.User); got != "700.00" {
			t.Fatalf("available %s after the authorizations, want 700.00", got)
		}
		dailyUsage(t, e, b.User, 300_00)
		verifyOK(t, e.Env)
	})
}

// dailyUsage asserts u's daily counters in CNY add up to want.
func dailyUsage(t *testing.T, e *escrowEnv, u *testenv.User, want int64) {
	t.Helper()
	rows, err := e.App.DB.Client.LimitUsage.Query().Where(limitusage.UserID(pulidOf(u.ID)), limitusage.Currency("CNY"),
		limitusage.PeriodHasPrefix("D")).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, r := range rows {
		sum += r.UsedMinor
	}
	if sum != want {
		t.Fatalf("daily usage %d, want %d", sum, want)
	}
}
