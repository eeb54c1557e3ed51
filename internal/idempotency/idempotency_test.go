package idempotency_test

import (
	"context"
	"testing"
	"time"

	"danbao/internal/apperr"
	"danbao/internal/idempotency"
	"danbao/internal/testenv"
)

func TestValidateKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"order-42":                true,
		"":                        false,
		"has space":               false,
		"tab\there":               false,
		"non-ascii-密钥":            false,
		string(make([]byte, 256)): false,
	} {
		if err := idempotency.ValidateKey(key); (err == nil) != ok || (err != nil && !apperr.Is(err, apperr.InvalidInput)) {
			t.Errorf("%q: %v", key, err)
		}
	}
}

func TestRequestHashSeparatesFields(t *testing.T) {
	a := idempotency.RequestHash("topUp", "card_1", "10.00")
	if string(a) == string(idempotency.RequestHash("topUp", "card_11", "0.00")) {
		t.Fatal("field boundaries are ambiguous")
	}
	if string(a) != string(idempotency.RequestHash("topUp", "card_1", "10.00")) {
		t.Fatal("not deterministic")
	}
}

func TestClaimIsExclusive(t *testing.T) {
	k := idempotency.New("sqlite3")
	req := idempotency.Request{Scope: "usr_1", Key: "k"}
	release, err := k.Claim(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Claim(req); !apperr.Is(err, apperr.IdempotencyConflict) {
		t.Fatalf("second claim: %v", err)
	}
	if _, err := k.Claim(idempotency.Request{Scope: "usr_2", Key: "k"}); err != nil {
		t.Fatalf("another caller's key: %v", err)
	}
	release()
	if _, err := k.Claim(req); err != nil {
		t.Fatalf("claim after release: %v", err)
	}
}

// TestPurgeKeepsLiveKeys: keys past retention are deleted, live ones stay.
func TestPurgeKeepsLiveKeys(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		e := testenv.New(t, d)
		ctx := context.Background()
		c := e.App.DB.Client
		now := time.Now().UTC()
		for key, exp := range map[string]time.Time{"old": now.Add(-time.Minute), "live": now.Add(time.Hour)} {
			if err := c.IdempotencyKey.Create().SetScope("usr_x").SetKey(key).SetOperation("topUp").
				SetRequestHash([]byte{1}).SetResultID("top_x").SetExpiresAt(exp).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		n, err := e.App.Keys.Purge(ctx, c)
		if err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		left, _ := c.IdempotencyKey.Query().All(ctx)
		if len(left) != 1 || left[0].Key != "live" {
			t.Fatalf("left %+v", left)
		}
		if idempotency.Retention < 72*time.Hour {
			t.Fatalf("retention %v is under 72h", idempotency.Retention)
		}
	})
}
