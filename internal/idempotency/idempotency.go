// Package idempotency makes money-moving requests safe to retry.
//
// A request carries a caller-chosen key. Inside the same database
// transaction as the movement, Check looks the key up in the caller's scope:
// not seen, the request proceeds and Save records (scope, key, request hash,
// result) with it; seen with the same request hash, the stored result is
// replayed and nothing moves again; seen with another hash, the request is
// refused with IDEMPOTENCY_CONFLICT. Two requests with one key at the same
// time: the first holds the key (an in-process claim, and on PostgreSQL a
// transaction-scoped advisory lock that spans instances) and the other is
// refused at once with IDEMPOTENCY_CONFLICT (reason IN_PROGRESS). A unique
// index on (scope, key) is the last line: no key is ever recorded twice.
// Keys are kept for Retention (at least 72 hours).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash/fnv"
	"sync"
	"time"

	"danbao/ent"
	"danbao/ent/idempotencykey"
	"danbao/internal/apperr"
	"danbao/internal/dbtx"

	"entgo.io/ent/dialect"
)

// Retention is how long keys are kept: a retry within it is always
// recognised.
const Retention = 7 * 24 * time.Hour

// MaxKeyLen bounds a key.
const MaxKeyLen = 255

// Request identifies one keyed request.
type Request struct {
	Scope     string // the caller (user or partner id)
	Key       string
	Operation string // e.g. "topUp"
	Hash      []byte // RequestHash of the operation's input
}

// RequestHash is a canonical digest of an operation's input fields.
func RequestHash(operation string, fields ...string) []byte {
	h := sha256.New()
	for _, f := range append([]string{operation}, fields...) {
		_ = binary.Write(h, binary.BigEndian, int64(len(f)))
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// ValidateKey checks a key's shape: 1 to 255 printable ASCII characters.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return apperr.Invalid("idempotencyKey", "idempotencyKey must have 1 to %d characters", MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return apperr.Invalid("idempotencyKey", "idempotencyKey must be printable ASCII without spaces")
		}
	}
	return nil
}

// Keys checks and records idempotency keys.
type Keys struct {
	dialect  string
	inflight sync.Map
	now      func() time.Time
}

// New returns Keys for a database of the given ent dialect.
func New(dialectName string) *Keys {
	return &Keys{dialect: dialectName, now: time.Now}
}

// Claim marks the key as in progress in this process until release is
// called. A second claim of the same key meanwhile is IDEMPOTENCY_CONFLICT
// (reason IN_PROGRESS). Claim outside the transaction (it must survive
// dbtx retries); release after it ends.
func (k *Keys) Claim(req Request) (release func(), err error) {
	id := req.Scope + "\x00" + req.Key
	if _, busy := k.inflight.LoadOrStore(id, struct{}{}); busy {
		return nil, inProgress()
	}
	return func() { k.inflight.Delete(id) }, nil
}

func inProgress() error {
	return apperr.New(apperr.IdempotencyConflict, "a request with this idempotency key is still in progress; retry later").
		WithField("idempotencyKey").With("reason", "IN_PROGRESS")
}

// Check looks req up in tx. It returns the stored result id of an earlier
// identical request ("" when the key is new). Errors: IDEMPOTENCY_CONFLICT
// when the key was used for a different request, or is in progress on
// another instance.
func (k *Keys) Check(ctx context.Context, tx *ent.Tx, req Request) (string, error) {
	if k.dialect == dialect.Postgres {
		// Serialise requests with one key across instances; an instance
		// that cannot take the lock at once answers "in progress".
		rows, err := tx.QueryContext(ctx, "SELECT pg_try_advisory_xact_lock($1)", lockKey(req))
		if err != nil {
			return "", err
		}
		var got bool
		if rows.Next() {
			err = rows.Scan(&got)
		}
		rows.Close()
		if err != nil {
			return "", err
		}
		if !got {
			return "", inProgress()
		}
	}
	row, err := tx.IdempotencyKey.Query().
		Where(idempotencykey.Scope(req.Scope), idempotencykey.Key(req.Key)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if row.Operation != req.Operation || string(row.RequestHash) != string(req.Hash) {
		return "", apperr.New(apperr.IdempotencyConflict, "this idempotency key was already used for a different request").
			WithField("idempotencyKey").With("reason", "INPUT_MISMATCH")
	}
	return row.ResultID, nil
}

// Save records req with its result in tx. Errors: IDEMPOTENCY_CONFLICT if
// the key was recorded meanwhile (the unique index).
func (k *Keys) Save(ctx context.Context, tx *ent.Tx, req Request, resultID string) error {
	now := k.now().UTC().Truncate(time.Microsecond)
	err := tx.IdempotencyKey.Create().
		SetScope(req.Scope).SetKey(req.Key).SetOperation(req.Operation).
		SetRequestHash(req.Hash).SetResultID(resultID).
		SetCreatedAt(now).SetExpiresAt(now.Add(Retention)).
		Exec(ctx)
	if dbtx.IsUniqueViolation(err) {
		return inProgress()
	}
	return err
}

// Purge deletes keys that expired before now and returns how many.
func (k *Keys) Purge(ctx context.Context, client *ent.Client) (int, error) {
	return client.IdempotencyKey.Delete().Where(idempotencykey.ExpiresAtLT(k.now().UTC())).Exec(ctx)
}

func lockKey(req Request) int64 {
	h := fnv.New64a()
	h.Write([]byte("idempotency\x00" + req.Scope + "\x00" + req.Key))
	return int64(h.Sum64())
}

// Run runs one idempotent request: it claims the key, then in one
// transaction on client either loads the result of an earlier identical
// request (replay) or runs create and records the key with the id it
// returns. On error the result is the zero value: a row the rollback
// discarded must never reach the caller. Errors: those of Claim, Check,
// load and create.
func Run[T any](ctx context.Context, k *Keys, client *ent.Client, req Request,
	load func(tx *ent.Tx, id string) (T, error),
	create func(tx *ent.Tx) (T, string, error),
) (out T, replay bool, err error) {
	var zero T
	release, err := k.Claim(req)
	if err != nil {
		return zero, false, err
	}
	defer release()
	err = dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
		prior, err := k.Check(ctx, tx, req)
		if err != nil {
			return err
		}
		if replay = prior != ""; replay {
			out, err = load(tx, prior)
			return err
		}
		var id string
		if out, id, err = create(tx); err != nil {
			return err
		}
		return k.Save(ctx, tx, req, id)
	})
	if err != nil {
		return zero, false, err
	}
	return out, replay, nil
}
