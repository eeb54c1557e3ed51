package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func load(env map[string]string) (Config, error) {
	return Load(func(k string) string { return env[k] })
}

func TestWebAuthnDefaults(t *testing.T) {
	c, err := load(map[string]string{"DANBAO_ADDR": "127.0.0.1:9090"})
	if err != nil {
		t.Fatal(err)
	}
	if c.WebAuthnRPID != "localhost" || c.WebAuthnRPName != "danbao" || c.WebAuthnTimeout != 5*time.Minute {
		t.Fatalf("RP ID %q, name %q, timeout %v", c.WebAuthnRPID, c.WebAuthnRPName, c.WebAuthnTimeout)
	}
	if !slices.Equal(c.WebAuthnOrigins, []string{"http://localhost:9090"}) {
		t.Fatalf("origins %v", c.WebAuthnOrigins)
	}
	if c.AssetLinks != nil || c.AppleAppSiteAssociation != nil {
		t.Fatal("well-known documents set without configuration")
	}
}

func TestWebAuthnOrigins(t *testing.T) {
	c, err := load(map[string]string{
		"DANBAO_WEBAUTHN_ORIGINS": "https://wallet.example, android:apk-key-hash:abc",
		"DANBAO_WEBAUTHN_TIMEOUT": "90s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.WebAuthnOrigins, []string{"https://wallet.example", "android:apk-key-hash:abc"}) || c.WebAuthnTimeout != 90*time.Second {
		t.Fatalf("origins %v timeout %v", c.WebAuthnOrigins, c.WebAuthnTimeout)
	}
}

func TestWellKnownDocuments(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aasa.json")
	if err := os.WriteFile(file, []byte(`{"webcredentials":{"apps":["TEAM.com.example.wallet"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{not json`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, value, want, wantErr string
	}{
		{"inline", `[{"relation":["delegate_permission/common.get_login_creds"]}]`, `[{"relation":["delegate_permission/common.get_login_creds"]}]`, ""},
		{"file", file, `{"webcredentials":{"apps":["TEAM.com.example.wallet"]}}`, ""},
		{"inline but invalid", `{"a":`, "", "DANBAO_ASSETLINKS_JSON: not valid JSON"},
		{"file but invalid", bad, "", "DANBAO_ASSETLINKS_JSON: not valid JSON"},
		{"missing file", filepath.Join(dir, "nope.json"), "", "DANBAO_ASSETLINKS_JSON: neither inline JSON nor a readable file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(map[string]string{"DANBAO_ASSETLINKS_JSON": tt.value})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(c.AssetLinks) != tt.want {
				t.Fatalf("assetlinks %s, want %s", c.AssetLinks, tt.want)
			}
		})
	}
}

// productionEnv is a production configuration that passes: every setting
// that production refuses at its development default is set.
func productionEnv() map[string]string {
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	return map[string]string{
		"DANBAO_ENV":                  "production",
		"DANBAO_SANDBOX":              "false",
		"DANBAO_PLAYGROUND":           "false",
		"DANBAO_JWT_KEY_FILE":         "/etc/danbao/jwt-es256.pem",
		"DANBAO_KYC_KEYS":             "1:" + key,
		"DANBAO_KYC_INDEX_KEY":        key,
		"DANBAO_BANK_CALLBACK_SECRET": "callback-secret",
		"DANBAO_CORS_ORIGINS":         "https://wallet.example",
	}
}

// TestProductionSwitch: DANBAO_ENV=production refuses each unsafe
// development default, naming its setting, and accepts a configuration
// without any; development accepts them all.
func TestProductionSwitch(t *testing.T) {
	c, err := load(productionEnv())
	if err != nil {
		t.Fatalf("a safe production configuration was refused: %v", err)
	}
	if !c.Production() {
		t.Fatal("DANBAO_ENV=production is not production")
	}
	tests := []struct {
		name    string
		change  map[string]string
		setting string
	}{
		{"sandbox on", map[string]string{"DANBAO_SANDBOX": "true"}, "DANBAO_SANDBOX:"},
		{"sandbox by default", map[string]string{"DANBAO_SANDBOX": ""}, "DANBAO_SANDBOX:"},
		{"playground on", map[string]string{"DANBAO_PLAYGROUND": "1"}, "DANBAO_PLAYGROUND:"},
		{"playground by default", map[string]string{"DANBAO_PLAYGROUND": ""}, "DANBAO_PLAYGROUND:"},
		{"generated signing key", map[string]string{"DANBAO_JWT_KEY_FILE": ""}, "DANBAO_JWT_KEY_FILE:"},
		{"signing key at the development path", map[string]string{"DANBAO_JWT_KEY_FILE": "./data/jwt-es256.pem"}, "DANBAO_JWT_KEY_FILE:"},
		{"generated KYC keys", map[string]string{"DANBAO_KYC_KEYS": "", "DANBAO_KYC_INDEX_KEY": ""}, "DANBAO_KYC_KEYS and DANBAO_KYC_INDEX_KEY:"},
		{"random callback secret", map[string]string{"DANBAO_BANK_CALLBACK_SECRET": ""}, "DANBAO_BANK_CALLBACK_SECRET:"},
		{"wildcard CORS", map[string]string{"DANBAO_CORS_ORIGINS": "https://wallet.example, *"}, "DANBAO_CORS_ORIGINS:"},
		{"profiling on all interfaces", map[string]string{"DANBAO_DEBUG_ADDR": ":6060"}, "DANBAO_DEBUG_ADDR:"},
		{"profiling on a public address", map[string]string{"DANBAO_DEBUG_ADDR": "10.0.0.5:6060"}, "DANBAO_DEBUG_ADDR:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := productionEnv()
			for k, v := range tt.change {
				env[k] = v
			}
			_, err := load(env)
			if err == nil || !strings.Contains(err.Error(), tt.setting) {
				t.Fatalf("error %v, want one naming %s", err, tt.setting)
			}
			env["DANBAO_ENV"] = ""
			if _, err := load(env); err != nil {
				t.Fatalf("development refused it: %v", err)
			}
		})
	}
	// Everything at once: every refusal is named, not only the first.
	_, err = load(map[string]string{"DANBAO_ENV": "production", "DANBAO_CORS_ORIGINS": "*"})
	for _, s := range []string{"DANBAO_SANDBOX:", "DANBAO_PLAYGROUND:", "DANBAO_JWT_KEY_FILE:", "DANBAO_KYC_KEYS", "DANBAO_BANK_CALLBACK_SECRET:", "DANBAO_CORS_ORIGINS:"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Fatalf("error %v does not name %s", err, s)
		}
	}
}

// TestDebugAddr: the profiling listener is off by default; in production a
// loopback address is accepted, another only when DANBAO_DEBUG_ALLOW_REMOTE
// says so; an address that is not host:port is refused everywhere.
func TestDebugAddr(t *testing.T) {
	if c, err := load(nil); err != nil || c.DebugAddr != "" {
		t.Fatalf("default: %q %v", c.DebugAddr, err)
	}
	for _, addr := range []string{"127.0.0.1:6060", "localhost:6060", "[::1]:6060"} {
		env := productionEnv()
		env["DANBAO_DEBUG_ADDR"] = addr
		if c, err := load(env); err != nil || c.DebugAddr != addr {
			t.Errorf("production with %s: %v", addr, err)
		}
	}
	env := productionEnv()
	env["DANBAO_DEBUG_ADDR"] = "0.0.0.0:6060"
	env["DANBAO_DEBUG_ALLOW_REMOTE"] = "true"
	if _, err := load(env); err != nil {
		t.Errorf("production, remote allowed deliberately: %v", err)
	}
	if _, err := load(map[string]string{"DANBAO_DEBUG_ADDR": "6060"}); err == nil || !strings.Contains(err.Error(), "DANBAO_DEBUG_ADDR:") {
		t.Errorf("not host:port: %v", err)
	}
}

// TestEnvAndLogSettings: unknown values of DANBAO_ENV, DANBAO_LOG_LEVEL and
// DANBAO_LOG_FORMAT are refused by name rather than silently defaulted.
func TestEnvAndLogSettings(t *testing.T) {
	for name, value := range map[string]string{"DANBAO_ENV": "prod", "DANBAO_LOG_LEVEL": "verbose", "DANBAO_LOG_FORMAT": "xml"} {
		if _, err := load(map[string]string{name: value}); err == nil || !strings.Contains(err.Error(), name+":") {
			t.Fatalf("%s=%s: error %v", name, value, err)
		}
	}
	for _, level := range []string{"debug", "info", "warn", "error", "DEBUG"} {
		if _, err := load(map[string]string{"DANBAO_LOG_LEVEL": level}); err != nil {
			t.Fatalf("DANBAO_LOG_LEVEL=%s refused: %v", level, err)
		}
	}
}

func TestDailyLimitSettings(t *testing.T) {
	c, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.DailyLimitMaxCNY != "50000.00" || c.DailyLimitDefaultCNY != "20000.00" {
		t.Fatalf("daily limit defaults: max %q, default %q", c.DailyLimitMaxCNY, c.DailyLimitDefaultCNY)
	}
	for _, tt := range []struct {
		max, def string
		bad      string // the setting the error must name; "" when valid
	}{
		{"600.00", "600.00", ""},
		{"600.00", "0", ""},
		{"600.00", "600.01", "DANBAO_DAILY_LIMIT_DEFAULT_CNY"},
		{"-1.00", "0", "DANBAO_DAILY_LIMIT_MAX_CNY"},
		{"6e2", "0", "DANBAO_DAILY_LIMIT_MAX_CNY"},
		{"600.00", "1.001", "DANBAO_DAILY_LIMIT_DEFAULT_CNY"},
	} {
		_, err := load(map[string]string{"DANBAO_DAILY_LIMIT_MAX_CNY": tt.max, "DANBAO_DAILY_LIMIT_DEFAULT_CNY": tt.def})
		if tt.bad == "" {
			if err != nil {
				t.Errorf("max %s default %s: %v", tt.max, tt.def, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.bad) {
			t.Errorf("max %s default %s: %v, want an error naming %s", tt.max, tt.def, err, tt.bad)
		}
	}
}

// TestRiskBurstSettings: the burst thresholds default to 3, 10, 20 and 60;
// 0 is accepted (the rule is off); a negative one is refused by name.
func TestRiskBurstSettings(t *testing.T) {
	c, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.RiskBurstMinute != 3 || c.RiskBurstMinuteHold != 10 || c.RiskBurstHour != 20 || c.RiskBurstHourHold != 60 {
		t.Fatalf("defaults: %d %d %d %d", c.RiskBurstMinute, c.RiskBurstMinuteHold, c.RiskBurstHour, c.RiskBurstHourHold)
	}
	c, err = load(map[string]string{"DANBAO_RISK_BURST_MINUTE": "0", "DANBAO_RISK_BURST_HOUR_HOLD": "0"})
	if err != nil || c.RiskBurstMinute != 0 || c.RiskBurstHourHold != 0 || c.RiskBurstMinuteHold != 10 {
		t.Fatalf("thresholds 0: %v %+v", err, c)
	}
	for _, name := range []string{"DANBAO_RISK_BURST_MINUTE", "DANBAO_RISK_BURST_MINUTE_HOLD", "DANBAO_RISK_BURST_HOUR", "DANBAO_RISK_BURST_HOUR_HOLD"} {
		if _, err := load(map[string]string{name: "-1"}); err == nil || !strings.Contains(err.Error(), name+": -1") {
			t.Errorf("%s=-1: %v, want an error naming it", name, err)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := load(map[string]string{})
	if err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("unset: %v, %v", c.TrustedProxies, err)
	}
	c, err = load(map[string]string{"DANBAO_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.10 ,fd00::/8, ::ffff:198.51.100.0/120, 10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/8", "192.0.2.10/32", "fd00::/8", "198.51.100.0/24", "10.0.0.0/8"}
	if !slices.Equal(got, want) {
		t.Fatalf("prefixes %v, want %v", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "fe80::1%eth0", "::ffff:0:0/80", "10.0.0.1:80", "0.0.0.0/0", "::/0"} {
		_, err := load(map[string]string{"DANBAO_TRUSTED_PROXIES": "10.0.0.0/8," + bad})
		if err == nil || !strings.Contains(err.Error(), "DANBAO_TRUSTED_PROXIES") {
			t.Errorf("%q: error %v, want one naming DANBAO_TRUSTED_PROXIES", bad, err)
		}
	}
}
