package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"

	"danbao/ent/schema/pulid"
	"danbao/internal/app"
	"danbao/internal/config"
	"danbao/internal/kyc"
)

// TestKYCRotateKeys runs `danbao kyc rotate-keys` after a new key version
// was added: the stored verification moves to it and stays readable.
func TestKYCRotateKeys(t *testing.T) {
	dir := t.TempDir()
	key := func(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	env := map[string]string{"DANBAO_DATA_DIR": dir, "DANBAO_KYC_KEYS": "1:" + key(1), "DANBAO_KYC_INDEX_KEY": key(0xAA)}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.DB.Client.User.Create().SetPhone("+8613900000001").SetPasswordHash("x").SetDisplayName("u").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.RealName.Submit(ctx, u.ID, kyc.Request{LegalName: "Zhang San", IDType: kyc.Passport, IDNumber: "E12345678"}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	env["DANBAO_KYC_KEYS"] = "1:" + key(1) + ",2:" + key(2)
	var out bytes.Buffer
	if err := run(ctx, []string{"kyc", "rotate-keys"}, getenv, &out); err != nil {
		t.Fatalf("rotate-keys: %v", err)
	}
	if !strings.Contains(out.String(), "re-encrypted 1 verification") {
		t.Fatalf("output %q", out.String())
	}
	if err := run(ctx, []string{"kyc", "rotate"}, getenv, io.Discard); err == nil {
		t.Fatal("a wrong subcommand was accepted")
	}

	// Only the new key is needed now.
	env["DANBAO_KYC_KEYS"] = "2:" + key(2)
	cfg, err = config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err = app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tx, err := a.DB.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := a.RealName.CheckCardHolder(ctx, tx, pulid.ID(u.ID), "ZHANG SAN"); err != nil {
		t.Fatalf("after rotation, with only the new key: %v", err)
	}
}
