package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testKey returns a deterministic 32-byte key distinct for each seed.
func testKey(seed byte) []byte {
	return bytes.Repeat([]byte{seed}, KeySize)
}

func newTestKeyring(t *testing.T, current int, versions ...int) *Keyring {
	t.Helper()
	keys := make(map[int][]byte, len(versions))
	for _, v := range versions {
		keys[v] = testKey(byte(v))
	}
	k, err := NewKeyring(keys, current, testKey(0xAA))
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	tests := []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{name: "resident ID", plaintext: []byte("11010519491231002X"), aad: []byte("user:42:idNumber")},
		{name: "empty plaintext", plaintext: []byte{}, aad: []byte("user:42:idNumber")},
		{name: "no aad", plaintext: []byte("E12345678"), aad: nil},
		{name: "binary", plaintext: []byte{0, 1, 2, 0xff, 0}, aad: []byte{0}},
		{name: "long", plaintext: bytes.Repeat([]byte("x"), 10000), aad: []byte("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, v, err := k.Encrypt(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if v != 1 {
				t.Errorf("version = %d, want 1", v)
			}
			if want := nonceSize + len(tt.plaintext) + tagSize; len(ct) != want {
				t.Errorf("len(ciphertext) = %d, want %d", len(ct), want)
			}
			if len(tt.plaintext) >= 4 && bytes.Contains(ct, tt.plaintext) {
				t.Errorf("ciphertext contains the plaintext")
			}
			got, err := k.Decrypt(ct, v, tt.aad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Decrypt = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestEncryptIsRandomized(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	pt, aad := []byte("11010519491231002X"), []byte("user:1")
	a, _, err := k.Encrypt(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := k.Encrypt(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[:nonceSize], b[:nonceSize]) {
		t.Errorf("two encryptions reused a nonce")
	}
	if bytes.Equal(a, b) {
		t.Errorf("two encryptions of one plaintext are equal")
	}
}

func TestDecryptRefusesTampering(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	pt, aad := []byte("11010519491231002X"), []byte("user:42:idNumber")
	ct, v, err := k.Encrypt(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	// Every byte matters: nonce, body and tag.
	for i := range ct {
		bad := slices.Clone(ct)
		bad[i] ^= 0x01
		if _, err := k.Decrypt(bad, v, aad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("flipping byte %d: error = %v, want ErrDecrypt", i, err)
		}
	}
	tests := []struct {
		name string
		ct   []byte
		aad  []byte
	}{
		{name: "wrong aad", ct: ct, aad: []byte("user:43:idNumber")},
		{name: "missing aad", ct: ct, aad: nil},
		{name: "truncated tag", ct: ct[:len(ct)-1], aad: aad},
		{name: "extra byte", ct: append(slices.Clone(ct), 0), aad: aad},
		{name: "shorter than nonce and tag", ct: ct[:nonceSize+tagSize-1], aad: aad},
		{name: "empty", ct: nil, aad: aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Decrypt(tt.ct, v, tt.aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("Decrypt error = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Errorf("Decrypt returned %q with its error", got)
			}
		})
	}
}

func TestDecryptWithOtherKeyFails(t *testing.T) {
	a := newTestKeyring(t, 1, 1)
	b, err := NewKeyring(map[int][]byte{1: testKey(9)}, 1, testKey(0xAA))
	if err != nil {
		t.Fatal(err)
	}
	ct, v, err := a.Encrypt([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt(ct, v, nil); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Decrypt under another key: error = %v, want ErrDecrypt", err)
	}
}

func TestRotation(t *testing.T) {
	old := newTestKeyring(t, 1, 1)
	aad := []byte("user:7:idNumber")
	ct1, v1, err := old.Encrypt([]byte("440524198001010064"), aad)
	if err != nil {
		t.Fatal(err)
	}

	// The operator adds version 2 and makes it current.
	rotated := newTestKeyring(t, 2, 1, 2)
	if got := rotated.CurrentVersion(); got != 2 {
		t.Fatalf("CurrentVersion = %d, want 2", got)
	}
	got, err := rotated.Decrypt(ct1, v1, aad)
	if err != nil || string(got) != "440524198001010064" {
		t.Fatalf("old ciphertext after rotation: %q, %v", got, err)
	}
	if !rotated.NeedsRotation(v1) {
		t.Errorf("NeedsRotation(%d) = false after rotation, want true", v1)
	}

	ct2, v2, err := rotated.Encrypt(got, aad)
	if err != nil {
		t.Fatal(err)
	}
	if v2 != 2 {
		t.Errorf("re-encrypted under version %d, want 2", v2)
	}
	if rotated.NeedsRotation(v2) {
		t.Errorf("NeedsRotation(%d) = true for the current version", v2)
	}
	// The version is not inside the ciphertext: naming the wrong one fails.
	if _, err := rotated.Decrypt(ct2, 1, aad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Decrypt under the wrong version: error = %v, want ErrDecrypt", err)
	}
	// The old keyring cannot read what the new key wrote.
	if _, err := old.Decrypt(ct2, v2, aad); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("Decrypt of version 2 without key 2: error = %v, want ErrUnknownVersion", err)
	}
}

func TestDecryptUnknownVersion(t *testing.T) {
	k := newTestKeyring(t, 2, 1, 2)
	ct, _, err := k.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{0, -1, 3, 100} {
		if _, err := k.Decrypt(ct, v, nil); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("Decrypt(version %d) error = %v, want ErrUnknownVersion", v, err)
		}
		if !k.NeedsRotation(v) {
			t.Errorf("NeedsRotation(%d) = false for a version not held", v)
		}
	}
}

func TestBlindIndex(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	const id = "11010519491231002X"

	a := k.BlindIndex("idNumber", id)
	if len(a) != 32 {
		t.Fatalf("len(BlindIndex) = %d, want 32", len(a))
	}
	if b := k.BlindIndex("idNumber", id); !bytes.Equal(a, b) {
		t.Errorf("BlindIndex is not deterministic")
	}
	if bytes.Contains(a, []byte(id)) {
		t.Errorf("BlindIndex contains the value")
	}

	// The same data keys with a different index key: the index is keyed by
	// the index key alone.
	sameData, err := NewKeyring(map[int][]byte{1: testKey(1)}, 1, testKey(0xAA))
	if err != nil {
		t.Fatal(err)
	}
	otherIndex, err := NewKeyring(map[int][]byte{1: testKey(1)}, 1, testKey(0xBB))
	if err != nil {
		t.Fatal(err)
	}
	rotatedData := newTestKeyring(t, 2, 1, 2)

	tests := []struct {
		name string
		got  []byte
		same bool
	}{
		{name: "same key, purpose and value", got: sameData.BlindIndex("idNumber", id), same: true},
		{name: "data key rotation keeps the index", got: rotatedData.BlindIndex("idNumber", id), same: true},
		{name: "other purpose", got: k.BlindIndex("bankCard", id)},
		{name: "other value", got: k.BlindIndex("idNumber", "440524198001010064")},
		{name: "other index key", got: otherIndex.BlindIndex("idNumber", id)},
		{name: "no case folding", got: k.BlindIndex("idNumber", "11010519491231002x")},
		// The zero separator keeps purpose and value apart.
		{name: "boundary moved", got: k.BlindIndex("idNumber1", id[1:])},
		{name: "empty purpose", got: k.BlindIndex("", "idNumber"+id)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if eq := bytes.Equal(a, tt.got); eq != tt.same {
				t.Errorf("equal to the reference index = %v, want %v", eq, tt.same)
			}
		})
	}
}

func TestBlindIndexRefusesZeroBytePurpose(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	defer func() {
		if recover() == nil {
			t.Errorf("BlindIndex with a zero byte in the purpose did not panic")
		}
	}()
	k.BlindIndex("id\x00Number", "x")
}

func TestNewKeyring(t *testing.T) {
	good := testKey(1)
	tests := []struct {
		name     string
		keys     map[int][]byte
		current  int
		indexKey []byte
		wantErr  string
	}{
		{name: "one key", keys: map[int][]byte{1: good}, current: 1, indexKey: testKey(0xAA)},
		{name: "current need not be highest", keys: map[int][]byte{1: good, 2: testKey(2)}, current: 1, indexKey: testKey(0xAA)},
		{name: "long index key", keys: map[int][]byte{1: good}, current: 1, indexKey: make([]byte, 64)},
		{name: "no keys", keys: nil, current: 1, indexKey: testKey(0xAA), wantErr: "no data keys"},
		{name: "16-byte key", keys: map[int][]byte{1: make([]byte, 16)}, current: 1, indexKey: testKey(0xAA), wantErr: "16 bytes"},
		{name: "33-byte key", keys: map[int][]byte{1: make([]byte, 33)}, current: 1, indexKey: testKey(0xAA), wantErr: "33 bytes"},
		{name: "version zero", keys: map[int][]byte{0: good}, current: 0, indexKey: testKey(0xAA), wantErr: "not positive"},
		{name: "negative version", keys: map[int][]byte{-1: good}, current: -1, indexKey: testKey(0xAA), wantErr: "not positive"},
		{name: "missing current", keys: map[int][]byte{1: good}, current: 2, indexKey: testKey(0xAA), wantErr: "current version 2"},
		{name: "short index key", keys: map[int][]byte{1: good}, current: 1, indexKey: make([]byte, 31), wantErr: "index key"},
		{name: "no index key", keys: map[int][]byte{1: good}, current: 1, indexKey: nil, wantErr: "index key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.keys, tt.current, tt.indexKey)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewKeyring: %v", err)
				}
				if k.CurrentVersion() != tt.current {
					t.Errorf("CurrentVersion = %d, want %d", k.CurrentVersion(), tt.current)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKeyring error = %v, want one mentioning %q", err, tt.wantErr)
			}
			if k != nil {
				t.Errorf("NewKeyring returned a keyring with its error")
			}
		})
	}
}

func TestNewKeyringCopiesKeys(t *testing.T) {
	key, index := testKey(1), testKey(0xAA)
	k, err := NewKeyring(map[int][]byte{1: key}, 1, index)
	if err != nil {
		t.Fatal(err)
	}
	ct, v, err := k.Encrypt([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bi := k.BlindIndex("p", "v")
	clear(key)
	clear(index)
	if _, err := k.Decrypt(ct, v, nil); err != nil {
		t.Errorf("Decrypt after the caller cleared its key slice: %v", err)
	}
	if !bytes.Equal(bi, k.BlindIndex("p", "v")) {
		t.Errorf("BlindIndex changed after the caller cleared its index key slice")
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2, k3 := testKey(1), testKey(2), testKey(0xFB) // 0xFB encodes to "+" or "-"
	std := base64.StdEncoding.EncodeToString
	url := base64.URLEncoding.EncodeToString
	rawStd := base64.RawStdEncoding.EncodeToString
	rawURL := base64.RawURLEncoding.EncodeToString
	index := std(testKey(0xAA))

	tests := []struct {
		name        string
		spec        string
		index       string
		wantCurrent int
		wantErr     string
	}{
		{name: "one key", spec: "1:" + std(k1), index: index, wantCurrent: 1},
		{name: "highest is current", spec: "1:" + std(k1) + ",2:" + std(k2), index: index, wantCurrent: 2},
		{name: "order does not matter", spec: "7:" + std(k2) + ",3:" + std(k1), index: index, wantCurrent: 7},
		{name: "spaces and trailing comma", spec: " 1 : " + std(k1) + " , 2:" + std(k2) + ",", index: " " + index + " ", wantCurrent: 2},
		{name: "URL base64", spec: "1:" + url(k3), index: url(testKey(0xFB)), wantCurrent: 1},
		{name: "unpadded standard base64", spec: "1:" + rawStd(k3), index: rawStd(testKey(0xAA)), wantCurrent: 1},
		{name: "unpadded URL base64", spec: "1:" + rawURL(k3), index: rawURL(testKey(0xFB)), wantCurrent: 1},
		{name: "empty spec", spec: "", index: index, wantErr: "empty"},
		{name: "only commas", spec: " , ,", index: index, wantErr: "empty"},
		{name: "no colon", spec: std(k1), index: index, wantErr: "version:base64key"},
		{name: "version not a number", spec: "one:" + std(k1), index: index, wantErr: "positive integer"},
		{name: "version zero", spec: "0:" + std(k1), index: index, wantErr: "positive integer"},
		{name: "negative version", spec: "-2:" + std(k1), index: index, wantErr: "positive integer"},
		{name: "duplicate version", spec: "1:" + std(k1) + ",1:" + std(k2), index: index, wantErr: "listed twice"},
		{name: "bad base64", spec: "1:not*base64", index: index, wantErr: "not valid base64"},
		{name: "empty key", spec: "1:", index: index, wantErr: "not valid base64"},
		{name: "short key", spec: "1:" + std(k1[:16]), index: index, wantErr: "16 bytes"},
		{name: "bad index key", spec: "1:" + std(k1), index: "%%%", wantErr: "index key"},
		{name: "missing index key", spec: "1:" + std(k1), index: "", wantErr: "index key"},
		{name: "short index key", spec: "1:" + std(k1), index: std(k1[:20]), wantErr: "index key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKeyring(tt.spec, tt.index)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKeyring error = %v, want one mentioning %q", err, tt.wantErr)
				}
				// Errors describe the spec without repeating its secrets.
				for _, secret := range []string{std(k1), std(k2), rawStd(k1[:16]), "not*base64"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains key material", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
			if got := k.CurrentVersion(); got != tt.wantCurrent {
				t.Errorf("CurrentVersion = %d, want %d", got, tt.wantCurrent)
			}
			ct, v, err := k.Encrypt([]byte("secret"), []byte("aad"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := k.Decrypt(ct, v, []byte("aad")); err != nil || string(pt) != "secret" {
				t.Errorf("round trip: %q, %v", pt, err)
			}
		})
	}
}

func TestParseKeyringMatchesNewKeyring(t *testing.T) {
	parsed, err := ParseKeyring("1:"+base64.StdEncoding.EncodeToString(testKey(1))+",2:"+base64.StdEncoding.EncodeToString(testKey(2)),
		base64.StdEncoding.EncodeToString(testKey(0xAA)))
	if err != nil {
		t.Fatal(err)
	}
	built := newTestKeyring(t, 2, 1, 2)
	ct, v, err := built.Encrypt([]byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := parsed.Decrypt(ct, v, nil); err != nil || string(pt) != "secret" {
		t.Errorf("parsed keyring cannot read the built one: %q, %v", pt, err)
	}
	if !bytes.Equal(parsed.BlindIndex("idNumber", "x"), built.BlindIndex("idNumber", "x")) {
		t.Errorf("parsed and built keyrings disagree on the blind index")
	}
}

func TestKeyringNeverPrintsKeys(t *testing.T) {
	k := newTestKeyring(t, 2, 1, 2)
	want := "vault.Keyring{versions: [1 2], current: 2}"
	if got := k.String(); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		for _, arg := range []any{k, *k} {
			got := fmt.Sprintf(verb, arg)
			if got != want {
				t.Errorf("Sprintf(%q, %T) = %q, want %q", verb, arg, got, want)
			}
			for _, key := range [][]byte{testKey(1), testKey(2), testKey(0xAA)} {
				if strings.Contains(got, hex.EncodeToString(key[:8])) || strings.Contains(got, string(key[:8])) {
					t.Errorf("Sprintf(%q, %T) reveals a key", verb, arg)
				}
			}
		}
	}
}

func TestKeyringConcurrentUse(t *testing.T) {
	k := newTestKeyring(t, 1, 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			aad := fmt.Appendf(nil, "user:%d", i)
			for range 100 {
				ct, v, err := k.Encrypt([]byte("11010519491231002X"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := k.Decrypt(ct, v, aad); err != nil {
					t.Error(err)
					return
				}
				k.BlindIndex("idNumber", "11010519491231002X")
			}
		})
	}
	wg.Wait()
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != KeySize || len(b) != KeySize {
		t.Fatalf("GenerateKey lengths %d, %d, want %d", len(a), len(b), KeySize)
	}
	if bytes.Equal(a, b) {
		t.Errorf("two generated keys are equal")
	}
	if _, err := NewKeyring(map[int][]byte{1: a}, 1, b); err != nil {
		t.Errorf("generated keys rejected by NewKeyring: %v", err)
	}
}
