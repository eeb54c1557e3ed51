package limits

import (
	"testing"

	"danbao/internal/apperr"
	"danbao/internal/money"
)

func TestDecidePasswordFree(t *testing.T) {
	on := PasswordFree{Enabled: true, PerPayment: 200_00, Daily: 1000_00, Used: 900_00}
	cases := []struct {
		name      string
		p         PasswordFree
		currency  money.Currency
		amount    int64
		reason    string // "" allowed
		remaining string
	}{
		{"within", on, money.CNY, 100_00, "", ""},
		{"exactly what is left", on, money.CNY, 100_00, "", ""},
		{"off", PasswordFree{}, money.CNY, 1, PasswordFreeOff, "0.00"},
		{"off with caps kept", PasswordFree{PerPayment: 200_00, Daily: 1000_00}, money.CNY, 1, PasswordFreeOff, "0.00"},
		{"other currency", on, money.USD, 1, PasswordFreeCurrencyNo, "100.00"},
		{"over the per-payment cap", PasswordFree{Enabled: true, PerPayment: 200_00, Daily: 1000_00}, money.CNY, 200_01, PasswordFreePerPayment, "1000.00"},
		{"over what is left today", on, money.CNY, 100_01, PasswordFreeDaily, "100.00"},
		{"a daily cap above the ceiling binds at the ceiling", PasswordFree{Enabled: true, PerPayment: 200_00, Daily: 5000_00, Used: 1000_00}, money.CNY, 1, PasswordFreeDaily, "0.00"},
	}
	for _, c := range cases {
		err := DecidePasswordFree(c.p, c.currency, c.amount)
		if c.reason == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.PasskeyRequired || ae.Extensions["reason"] != c.reason ||
			ae.Extensions["limit"] != PasswordFreeName || ae.Extensions["remaining"] != c.remaining {
			t.Errorf("%s: %v %v, want PASSKEY_REQUIRED %s remaining %s", c.name, err, ae, c.reason, c.remaining)
		}
	}
}

func TestValidatePasswordFree(t *testing.T) {
	cases := []struct {
		per, daily int64
		field      string // "" valid
	}{
		{200_00, 1000_00, ""},
		{1, 1, ""},
		{200_00, 1000_01, "dailyLimit"},
		{200_00, 0, "dailyLimit"},
		{0, 100_00, "perPaymentLimit"},
		{100_01, 100_00, "perPaymentLimit"},
	}
	for _, c := range cases {
		err := ValidatePasswordFree(c.per, c.daily)
		if c.field == "" {
			if err != nil {
				t.Errorf("ValidatePasswordFree(%d, %d) = %v", c.per, c.daily, err)
			}
			continue
		}
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.InvalidInput || (len(ae.Field) == 0 || ae.Field[len(ae.Field)-1] != c.field) {
			t.Errorf("ValidatePasswordFree(%d, %d) = %v, want INVALID_INPUT on %s", c.per, c.daily, err, c.field)
		}
	}
}
