package config

import (
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
