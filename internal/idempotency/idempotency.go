// Package idempotency makes money-moving requests safe to retry.
//
// A request carries a caller-chosen key. Run records the key in the
// caller's scope first in the movement's own transaction, in one
// statement, with (scope, key, request hash, result id): the result id is
// known up front (the object acted on, or the id the new row is created
// with). Inserted, the key is new and the request proceeds; a failure rolls
// the key back with everything else. Already there with the same request
// hash, the stored result is replayed and nothing moves again; with another
// hash, the request is refused with IDEMPOTENCY_CONFLICT (reason
// INPUT_MISMATCH). Two requests with one key at the same time: the first
// holds the key (an in-process claim, and on PostgreSQL a
// transaction-scoped advisory lock that spans instances, tried without
// waiting in the inserting statement) and the other is refused at once with
// IDEMPOTENCY_CONFLICT (reason IN_PROGRESS). A unique index on (scope, key)
// is the last line: no key is ever recorded twice. A new key costs one
// statement on both engines, a replay or a refusal two. Keys are kept for
// Retention (at least 72 hours).
package idempotency

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"danbao/ent"
	"danbao/ent/idempotencykey"
	"danbao/ent/schema/pulid"
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
	// ResultID is the id of the object the request acts on or creates,
	// known before it runs: the key is recorded with it first in the
	// transaction. An operation that creates a row makes its id
	// beforehand (pulid.New, as the schema's default would) and sets it.
	ResultID string
	// Claimed: the caller holds the key's in-process claim (Keys.Claim)
	// already, from before work it does ahead of Run, and releases it.
	Claimed bool
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

// Tried reports whether a request that failed with err used up what it
// carried for one use only (a passkey assertion): its function ran (ran:
// it held the key), or its key was refused as another request's
// (IDEMPOTENCY_CONFLICT, INPUT_MISMATCH: no twin of it exists). A request
// that failed before its claim (cancelled while queued for a writer,
// BEGIN failed) or found its key held (IN_PROGRESS) did not: a twin may
// be using the same assertion now, and spending it would fail the twin.
func Tried(err error, ran bool) bool {
	if apperr.Is(err, apperr.IdempotencyConflict) {
		return !isInProgress(err)
	}
	return ran
}

// isInProgress reports whether err is the refusal of a request whose key
// another request holds now (IDEMPOTENCY_CONFLICT, reason IN_PROGRESS): a
// twin is running, and what it will spend is not this request's to spend.
func isInProgress(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == apperr.IdempotencyConflict && e.Extensions["reason"] == "IN_PROGRESS"
}

// claim records req's key in tx, first in its transaction, or finds it
// recorded. It returns the stored result id of an earlier identical
// request ("" when the key is new and now recorded with req.ResultID).
// Errors: IDEMPOTENCY_CONFLICT when the key was used for a different
// request (INPUT_MISMATCH), or is in progress on another instance
// (IN_PROGRESS).
//
// A new key costs one statement on both engines; only a replay or a
// conflict reads the stored row with a second.
func (k *Keys) claim(ctx context.Context, tx *ent.Tx, req Request) (string, error) {
	now := k.now().UTC().Truncate(time.Microsecond)
	args := []any{string(pulid.New(pulid.PrefixIdempotencyKey)), req.Scope, req.Key, req.Operation,
		req.Hash, req.ResultID, now, now.Add(Retention)}
	var inserted bool
	if k.dialect == dialect.Postgres {
		// Requests with one key are serialised across instances by a
		// transaction-scoped advisory lock, taken without waiting in the
		// statement that inserts the key:
		//   - not got: another transaction holding the key is open; answer
		//     IN_PROGRESS at once (nothing is inserted: the insert reads
		//     no row from l).
		//   - got and inserted: the key is new; it stays invisible to
		//     others until commit, and the lock keeps them from waiting on
		//     its unique index entry.
		//   - got, not inserted: the key exists and is committed. Every
		//     insert of a key happens under its lock (here), so the
		//     transaction that wrote it held the lock until it ended, and
		//     PostgreSQL releases transaction locks only after the commit
		//     is visible to new snapshots. ON CONFLICT DO NOTHING checks
		//     the index itself, not this statement's snapshot (taken
		//     before the lock), and at READ COMMITTED the next statement,
		//     which reads the row, takes a new snapshot that sees it.
		// l is MATERIALIZED so that the lock is tried exactly once.
		// Often the transaction's first statement: dbtx.QueryRow sends it
		// with the BEGIN.
		var got bool
		err := dbtx.QueryRow(ctx, tx, []any{&got, &inserted}, `WITH l AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS got),
i AS (INSERT INTO idempotency_keys (id, scope, "key", operation, request_hash, result_id, created_at, expires_at)
SELECT $2::varchar, $3::varchar, $4::varchar, $5::varchar, $6::bytea, $7::varchar, $8::timestamptz, $9::timestamptz FROM l WHERE l.got
ON CONFLICT (scope, "key") DO NOTHING RETURNING 1)
SELECT l.got, EXISTS (SELECT 1 FROM i) FROM l`, append([]any{lockKey(req)}, args...)...)
		if errors.Is(err, sql.ErrNoRows) {
			err = errors.New("idempotency: the claim returned no row")
		}
		if err != nil {
			return "", err
		}
		if !got {
			return "", inProgress()
		}
	} else {
		// SQLite has one writer at a time (write transactions begin
		// IMMEDIATE): no other transaction can hold the key uncommitted.
		rows, err := tx.QueryContext(ctx, `INSERT INTO idempotency_keys (id, scope, "key", operation, request_hash, result_id, created_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, "key") DO NOTHING RETURNING id`, args...)
		if err != nil {
			return "", err
		}
		var id string
		if inserted, err = one(rows, &id); err != nil {
			return "", err
		}
	}
	if inserted {
		return "", nil
	}
	row, err := tx.IdempotencyKey.Query().
		Where(idempotencykey.Scope(req.Scope), idempotencykey.Key(req.Key)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return "", inProgress() // purged since the insert saw it: retry
	}
	if err != nil {
		return "", err
	}
	if row.Operation != req.Operation || string(row.RequestHash) != string(req.Hash) {
		return "", apperr.New(apperr.IdempotencyConflict, "this idempotency key was already used for a different request").
			WithField("idempotencyKey").With("reason", "INPUT_MISMATCH")
	}
	if row.ResultID == "" {
		// Never written by Run (it refuses a request without a result id);
		// replaying it would load nothing, and running again could move
		// money twice.
		return "", fmt.Errorf("idempotency: key %q of %s is stored without a result", req.Key, req.Operation)
	}
	return row.ResultID, nil
}

// one scans the first row of rows into dest and closes rows. It reports
// whether there was a row.
func one(rows *sql.Rows, dest ...any) (bool, error) {
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
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
// transaction on client records the key with req.ResultID before anything
// else and runs create, or finds the key recorded and either loads the
// result of an earlier identical request (replay) or refuses. create must
// return req.ResultID as its id, or the transaction is rolled back with an
// internal error. On error the result is the zero value: a row the
// rollback discarded must never reach the caller, and the rollback
// discards the key too. Errors: those of Claim, claim, load and create.
func Run[T any](ctx context.Context, k *Keys, client *ent.Client, req Request,
	load func(tx *ent.Tx, id string) (T, error),
	create func(tx *ent.Tx) (T, string, error),
) (out T, replay bool, err error) {
	var zero T
	if req.ResultID == "" {
		return zero, false, fmt.Errorf("idempotency: %s without a result id", req.Operation)
	}
	if !req.Claimed {
		release, err := k.Claim(req)
		if err != nil {
			return zero, false, err
		}
		defer release()
	}
	err = dbtx.WithTx(ctx, client, func(tx *ent.Tx) error {
		prior, err := k.claim(ctx, tx, req)
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
		if id != req.ResultID {
			return fmt.Errorf("idempotency: %s produced %q, not its result id %q", req.Operation, id, req.ResultID)
		}
		return nil
	})
	if err != nil {
		return zero, false, err
	}
	return out, replay, nil
}
