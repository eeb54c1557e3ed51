package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"danbao/ent"
	"danbao/ent/idempotencykey"
	"danbao/internal/apperr"
	"danbao/internal/db"
	"danbao/internal/idempotency"
	"danbao/internal/testenv"
)

// traced is one client on a fresh database that records the statements
// sent in contexts marked by mark.
type traced struct {
	db   *db.DB
	keys *idempotency.Keys
	mu   sync.Mutex
	seen []string
}

type markKey struct{}

func mark(ctx context.Context) context.Context { return context.WithValue(ctx, markKey{}, true) }

func (c *traced) trace(ctx context.Context, s string) {
	if ctx.Value(markKey{}) == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, s)
}

// take returns the statements recorded since the last take.
func (c *traced) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.seen
	c.seen = nil
	return s
}

// open opens a client on url (SQLite in dir when url is ""), migrated.
func open(t *testing.T, url, dir string) *traced {
	t.Helper()
	c := &traced{}
	d, err := db.OpenTraced(context.Background(), url, dir, c.trace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	c.db, c.keys = d, idempotency.New(d.Dialect)
	return c
}

// op is an operation that creates one counter row with the request's
// result id: the "movement" a replay must not repeat.
type op struct {
	created atomic.Int32
	wait    chan struct{} // when set, create blocks until it is closed
	entered chan struct{} // when set, closed once create runs
	fail    error         // when set, create fails with it after writing
	id      string        // when set, the id create returns instead
}

func (o *op) run(ctx context.Context, c *traced, req idempotency.Request) (string, bool, error) {
	return idempotency.Run(ctx, c.keys, c.db.Client, req,
		func(tx *ent.Tx, id string) (string, error) { return id, nil },
		func(tx *ent.Tx) (string, string, error) {
			o.created.Add(1)
			if err := tx.Counter.Create().SetID(req.ResultID).Exec(ctx); err != nil {
				return "", "", err
			}
			if o.entered != nil {
				close(o.entered)
			}
			if o.wait != nil {
				<-o.wait
			}
			if o.fail != nil {
				return "", "", o.fail
			}
			if o.id != "" {
				return o.id, o.id, nil
			}
			return req.ResultID, req.ResultID, nil
		})
}

var seq atomic.Int64

func request(key string, input ...string) idempotency.Request {
	return idempotency.Request{Scope: "usr_test", Key: key, Operation: "test",
		Hash: idempotency.RequestHash("test", input...), ResultID: fmt.Sprintf("res-%d", seq.Add(1))}
}

func reason(err error) string {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.IdempotencyConflict {
		return fmt.Sprintf("not IDEMPOTENCY_CONFLICT: %v", err)
	}
	r, _ := e.Extensions["reason"].(string)
	return r
}

func keysAndRows(t *testing.T, c *traced, key string) (keys, rows int) {
	t.Helper()
	ctx := context.Background()
	k, err := c.db.Client.IdempotencyKey.Query().Where(idempotencykey.Key(key)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := c.db.Client.Counter.Query().IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if strings.HasPrefix(id, "res-") {
			rows++
		}
	}
	return k, rows
}

// claims returns the statements other than BEGIN, COMMIT and the
// operation's own insert.
func claims(seen []string) []string {
	var out []string
	for _, s := range seen {
		if strings.Contains(s, "started") || strings.Contains(s, "committed") || strings.Contains(s, "INSERT INTO \"counters\"") ||
			strings.Contains(s, "INSERT INTO `counters`") {
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestRunNewKeyOneStatement: a new key costs exactly one statement (the
// claim that records it) on both engines, and a replay two (the claim and
// the read of the stored row), without running the operation again.
func TestRunNewKeyOneStatement(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, testenv.DatabaseURL(t, d), t.TempDir())
		ctx := mark(context.Background())
		o := &op{}
		req := request("one", "a")
		id, replay, err := o.run(ctx, c, req)
		if err != nil || replay || id != req.ResultID {
			t.Fatalf("new: %q %v %v", id, replay, err)
		}
		seen := c.take()
		if got := claims(seen); len(got) != 1 || len(seen) != 4 {
			t.Fatalf("a new key sent %d statements, %d of them idempotency's (want 4 and 1):\n%s", len(seen), len(got), strings.Join(seen, "\n"))
		}
		again := request("one", "a")
		id, replay, err = o.run(ctx, c, again)
		if err != nil || !replay || id != req.ResultID {
			t.Fatalf("replay: %q %v %v (want %q)", id, replay, err, req.ResultID)
		}
		seen = c.take()
		if got := claims(seen); len(got) != 2 {
			t.Fatalf("a replay sent %d idempotency statements (want 2):\n%s", len(got), strings.Join(seen, "\n"))
		}
		if n := o.created.Load(); n != 1 {
			t.Fatalf("the operation ran %d times", n)
		}
		if k, r := keysAndRows(t, c, "one"); k != 1 || r != 1 {
			t.Fatalf("%d keys, %d rows", k, r)
		}
	})
}

// TestRunInputMismatch: the same key with another input is refused with
// INPUT_MISMATCH and moves nothing; another scope's key is its own.
func TestRunInputMismatch(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, testenv.DatabaseURL(t, d), t.TempDir())
		ctx := context.Background()
		o := &op{}
		if _, _, err := o.run(ctx, c, request("mm", "a")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := o.run(ctx, c, request("mm", "b")); reason(err) != "INPUT_MISMATCH" {
			t.Fatalf("other input: %v", err)
		}
		other := request("mm", "b")
		other.Scope = "usr_other"
		if _, replay, err := o.run(ctx, c, other); err != nil || replay {
			t.Fatalf("another scope: %v %v", replay, err)
		}
		if n := o.created.Load(); n != 2 {
			t.Fatalf("the operation ran %d times, want 2", n)
		}
	})
}

// TestRunRollbackLeavesNoKey: an operation that fails, or returns another
// id than the request announced, leaves neither the key nor its rows; the
// key then runs as new.
func TestRunRollbackLeavesNoKey(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		c := open(t, testenv.DatabaseURL(t, d), t.TempDir())
		ctx := context.Background()
		refused := apperr.New(apperr.InsufficientFunds, "no")
		if _, _, err := (&op{fail: refused}).run(ctx, c, request("rb", "a")); !apperr.Is(err, apperr.InsufficientFunds) {
			t.Fatalf("failing operation: %v", err)
		}
		if k, r := keysAndRows(t, c, "rb"); k != 0 || r != 0 {
			t.Fatalf("after a rollback: %d keys, %d rows", k, r)
		}
		if _, _, err := (&op{id: "res-other"}).run(ctx, c, request("rb", "a")); err == nil || apperr.CodeOf(err) != apperr.Internal {
			t.Fatalf("another result id: %v (%s)", err, apperr.CodeOf(err))
		}
		if k, r := keysAndRows(t, c, "rb"); k != 0 || r != 0 {
			t.Fatalf("after another result id: %d keys, %d rows", k, r)
		}
		if _, replay, err := (&op{}).run(ctx, c, request("rb", "a")); err != nil || replay {
			t.Fatalf("after the rollbacks: %v %v", replay, err)
		}
		if _, _, err := (&op{}).run(ctx, c, idempotency.Request{Scope: "usr_test", Key: "rb2", Operation: "test"}); err == nil {
			t.Fatal("a request without a result id ran")
		}
	})
}

// TestRunAcrossClients (PostgreSQL): two instances (two clients, each with
// its own in-process claims) run one key at once. While the first
// transaction is open the second is refused with IN_PROGRESS without
// waiting for it; right after the first commits the second replays its
// result. The operation runs once.
func TestRunAcrossClients(t *testing.T) {
	url := testenv.DatabaseURL(t, testenv.Postgres)
	a, b := open(t, url, ""), open(t, url, "")
	ctx := context.Background()
	first := &op{wait: make(chan struct{}), entered: make(chan struct{})}
	req := request("x", "a")
	type res struct {
		id     string
		replay bool
		err    error
	}
	done := make(chan res, 1)
	go func() {
		id, replay, err := first.run(ctx, a, req)
		done <- res{id, replay, err}
	}()
	select {
	case <-first.entered:
	case r := <-done:
		t.Fatalf("first: %+v", r)
	}
	second := &op{}
	start := time.Now()
	other := make(chan res, 1)
	go func() {
		id, replay, err := second.run(ctx, b, request("x", "a"))
		other <- res{id, replay, err}
	}()
	select {
	case r := <-other:
		if reason(r.err) != "IN_PROGRESS" {
			t.Errorf("second while the first is open: %+v", r)
		}
		t.Logf("refused after %v", time.Since(start))
	case <-time.After(10 * time.Second):
		close(first.wait)
		t.Fatalf("the second request waited for the first (%+v)", <-other)
	}
	close(first.wait)
	if r := <-done; r.err != nil || r.replay || r.id != req.ResultID {
		t.Fatalf("first: %+v", r)
	}
	if id, replay, err := second.run(ctx, b, request("x", "a")); err != nil || !replay || id != req.ResultID {
		t.Fatalf("second after the commit: %q %v %v", id, replay, err)
	}
	if _, _, err := second.run(ctx, b, request("x", "b")); reason(err) != "INPUT_MISMATCH" {
		t.Fatalf("other input on the other instance: %v", err)
	}
	if n := first.created.Load() + second.created.Load(); n != 1 {
		t.Fatalf("the operation ran %d times", n)
	}
}

// TestRunRace: many requests with one key on two instances at once (on
// SQLite, one instance's requests with the in-process claim bypassed by
// giving each its own Keys): exactly one runs the operation, every other
// one replays it or is refused IN_PROGRESS, and one key is recorded.
func TestRunRace(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d testenv.Dialect) {
		url, dir := testenv.DatabaseURL(t, d), t.TempDir()
		a := open(t, url, dir)
		b := a
		if d == testenv.Postgres {
			b = open(t, url, dir)
		}
		ctx := context.Background()
		o := &op{}
		var wg sync.WaitGroup
		var ran, replays, busy atomic.Int32
		for i := 0; i < 16; i++ {
			c := &traced{db: a.db, keys: idempotency.New(a.db.Dialect)}
			if i%2 == 1 {
				c.db = b.db
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, replay, err := o.run(ctx, c, request("race", "a"))
				switch {
				case err == nil && replay:
					replays.Add(1)
				case err == nil:
					ran.Add(1)
				case reason(err) == "IN_PROGRESS":
					busy.Add(1)
				default:
					t.Errorf("request: %v", err)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d ran, %d replayed, %d in progress", ran.Load(), replays.Load(), busy.Load())
		if ran.Load() != 1 || o.created.Load() != 1 {
			t.Fatalf("%d requests ran, the operation %d times", ran.Load(), o.created.Load())
		}
		if k, r := keysAndRows(t, a, "race"); k != 1 || r != 1 {
			t.Fatalf("%d keys, %d rows", k, r)
		}
	})
}
