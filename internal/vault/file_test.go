package vault

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kyc-keys")
	a, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	// A second start reads the same keys: ciphertext and indexes carry over.
	b, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ct, v, err := a.Encrypt([]byte("secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := b.Decrypt(ct, v, []byte("aad")); err != nil || string(pt) != "secret" {
		t.Fatalf("reloaded keyring cannot decrypt: %q, %v", pt, err)
	}
	if !bytes.Equal(a.BlindIndex("p", "v"), b.BlindIndex("p", "v")) {
		t.Errorf("reloaded keyring computes another blind index")
	}
	// Another file means other keys.
	c, err := LoadOrCreateFile(filepath.Join(t.TempDir(), "kyc-keys"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.BlindIndex("p", "v"), c.BlindIndex("p", "v")) {
		t.Errorf("two generated key files share the index key")
	}
}

func TestLoadOrCreateFileRefusesBadFiles(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{name: "empty", body: "", want: "empty"},
		{name: "unknown line", body: "keys=1:AAAA\nsecret=xyz\n", want: "unknown line"},
		{name: "short index key", body: "keys=1:" + strings.Repeat("A", 43) + "=\nindex=AAAA\n", want: "index key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kyc-keys")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
