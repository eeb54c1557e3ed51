package vault

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateFile reads a keyring from the development key file at path,
// creating the file with a fresh data key (version 1) and a fresh index key
// when it does not exist. The file is written with mode 0600 and exclusive
// creation, so two processes starting at once end up reading the same keys.
// Its format is two lines, "keys=<spec>" and "index=<base64>", in the
// syntax of ParseKeyring; lines starting with # are comments. Errors never
// contain key material.
func LoadOrCreateFile(path string) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createFile(path); err != nil {
			return nil, err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: reading key file: %w", err)
	}
	var spec, index string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "keys":
			spec = v
		case "index":
			index = v
		default:
			return nil, fmt.Errorf("vault: key file %s: unknown line %q", path, strings.TrimSpace(k))
		}
	}
	k, err := ParseKeyring(spec, index)
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	return k, nil
}

func createFile(path string) error {
	data, err := GenerateKey()
	if err != nil {
		return err
	}
	index, err := GenerateKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // another process created it first: read theirs
	}
	if err != nil {
		return fmt.Errorf("vault: creating key file: %w", err)
	}
	enc := base64.StdEncoding.EncodeToString
	_, err = fmt.Fprintf(f, "# danbao development keys for data encrypted at rest (package vault).\n"+
		"# Generated on first start; production sets DANBAO_KYC_KEYS and DANBAO_KYC_INDEX_KEY instead.\n"+
		"keys=1:%s\nindex=%s\n", enc(data), enc(index))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("vault: writing key file: %w", err)
	}
	return nil
}
