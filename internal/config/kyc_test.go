package config

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestKYCKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	k16 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 16)))
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "neither: development key file", env: map[string]string{"DANBAO_DATA_DIR": "/tmp/d/"}},
		{name: "both", env: map[string]string{"DANBAO_KYC_KEYS": "1:" + k32 + ",2:" + k32, "DANBAO_KYC_INDEX_KEY": k32}},
		{name: "keys only", env: map[string]string{"DANBAO_KYC_KEYS": "1:" + k32}, wantErr: "set both"},
		{name: "index only", env: map[string]string{"DANBAO_KYC_INDEX_KEY": k32}, wantErr: "set both"},
		{name: "short data key", env: map[string]string{"DANBAO_KYC_KEYS": "1:" + k16, "DANBAO_KYC_INDEX_KEY": k32}, wantErr: "16 bytes"},
		{name: "short index key", env: map[string]string{"DANBAO_KYC_KEYS": "1:" + k32, "DANBAO_KYC_INDEX_KEY": k16}, wantErr: "index key"},
		{name: "malformed list", env: map[string]string{"DANBAO_KYC_KEYS": k32, "DANBAO_KYC_INDEX_KEY": k32}, wantErr: "version:base64key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.env["DANBAO_DATA_DIR"] != "" && c.KYCKeyFile != "/tmp/d/kyc-keys" {
					t.Errorf("key file %q", c.KYCKeyFile)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error = %v, want one mentioning %q", err, tt.wantErr)
			}
			for _, secret := range []string{k32, k16} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a key", err)
				}
			}
		})
	}
}
