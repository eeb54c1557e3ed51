package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func openCache(t *testing.T) *sql.DB {
	t.Helper()
	d, err := OpenSQLite(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.SQL.Exec("CREATE TABLE t (x integer PRIMARY KEY, s text, b blob)"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if _, err := d.SQL.Exec("INSERT INTO t (x, s, b) VALUES (?, ?, ?)", i, fmt.Sprint("s", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return d.SQL
}

func ints(t *testing.T, rows *sql.Rows, n int) []int {
	t.Helper()
	var out []int
	for (n < 0 || len(out) < n) && rows.Next() {
		var x int
		var s string
		var b []byte
		if err := rows.Scan(&x, &s, &b); err != nil {
			t.Fatal(err)
		}
		if s != fmt.Sprint("s", x) || len(b) != 1 || int(b[0]) != x {
			t.Fatalf("row %d: %q %v", x, s, b)
		}
		out = append(out, x)
	}
	return out
}

const rangeQ = "SELECT x, s, b FROM t WHERE x >= ? ORDER BY x"

// TestStmtCacheSameTextWhileRowsOpen: a statement whose rows are still
// open is not reused: the same text run again on the connection (in and
// out of a transaction) reads its own rows, and the first rows go on
// where they were.
func TestStmtCacheSameTextWhileRowsOpen(t *testing.T) {
	db := openCache(t)
	ctx := context.Background()
	for _, inTx := range []bool{false, true} {
		var q interface {
			QueryContext(context.Context, string, ...any) (*sql.Rows, error)
		}
		var done func() error
		if inTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			q, done = tx, tx.Commit
		} else {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			q, done = c, c.Close
		}
		r1, err := q.QueryContext(ctx, rangeQ, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got := ints(t, r1, 1); fmt.Sprint(got) != "[3]" {
			t.Fatalf("first rows %v", got)
		}
		for i := 0; i < 3; i++ {
			r2, err := q.QueryContext(ctx, rangeQ, 8)
			if err != nil {
				t.Fatal(err)
			}
			if got := ints(t, r2, -1); fmt.Sprint(got) != "[8 9 10]" {
				t.Fatalf("second rows %v", got)
			}
			r2.Close()
		}
		if got := ints(t, r1, -1); fmt.Sprint(got) != "[4 5 6 7 8 9 10]" {
			t.Fatalf("first rows went on with %v", got)
		}
		r1.Close()
		r3, err := q.QueryContext(ctx, rangeQ, 9)
		if err != nil {
			t.Fatal(err)
		}
		if got := ints(t, r3, -1); fmt.Sprint(got) != "[9 10]" {
			t.Fatalf("third rows %v", got)
		}
		r3.Close()
		if err := done(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStmtCacheEvictionKeepsBusy: filling the cache past its bound while a
// statement's rows are open leaves those rows readable.
func TestStmtCacheEvictionKeepsBusy(t *testing.T) {
	db := openCache(t)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r1, err := c.QueryContext(ctx, rangeQ, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := ints(t, r1, 2); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("%v", got)
	}
	for i := 0; i < 2*maxCachedStmts+10; i++ {
		var n int
		if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT ? + %d", i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("%d: %d %v", i, n, err)
		}
	}
	if got := ints(t, r1, -1); fmt.Sprint(got) != "[3 4 5 6 7 8 9 10]" {
		t.Fatalf("rows after eviction %v", got)
	}
	r1.Close()
	r2, err := c.QueryContext(ctx, rangeQ, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := ints(t, r2, -1); fmt.Sprint(got) != "[10]" {
		t.Fatalf("%v", got)
	}
	r2.Close()
}

// TestStmtCacheCancel: a query cancelled while it runs, or while its rows
// are read, leaves the pool's connections and their kept statements
// usable, with the right results.
func TestStmtCacheCancel(t *testing.T) {
	db := openCache(t)
	const slow = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?) SELECT count(*) FROM c"
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		var n int
		err := db.QueryRowContext(ctx, slow, 1_000_000_000).Scan(&n)
		cancel()
		if err == nil {
			t.Fatalf("a billion rows counted in 20ms: %d", n)
		}
		if err := db.QueryRowContext(context.Background(), slow, 10).Scan(&n); err != nil || n != 10 {
			t.Fatalf("after cancel: %d %v", n, err)
		}
		// Cancelled between rows.
		ctx, cancel = context.WithCancel(context.Background())
		rows, err := db.QueryContext(ctx, rangeQ, 1)
		if err != nil {
			t.Fatal(err)
		}
		ints(t, rows, 1)
		cancel()
		for rows.Next() {
		}
		rows.Close()
		rows, err = db.QueryContext(context.Background(), rangeQ, 5)
		if err != nil {
			t.Fatal(err)
		}
		if got := ints(t, rows, -1); fmt.Sprint(got) != "[5 6 7 8 9 10]" {
			t.Fatalf("after a cancel between rows: %v", got)
		}
		rows.Close()
	}
	// Cancelled inside a transaction: rolled back, the next one commits.
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE t SET s = ? WHERE x = ?", "gone", 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := tx.Commit(); err == nil {
			t.Fatal("committed after cancel")
		}
		var s string
		if err := db.QueryRow("SELECT s FROM t WHERE x = ?", 1).Scan(&s); err != nil || s != "s1" {
			t.Fatalf("%q %v", s, err)
		}
	}
}

// TestStmtCacheErrorsAndBindings: a kept statement that failed (unique
// violation) is reused cleanly, inside a transaction that then commits,
// and parameters never leak from one use to the next.
func TestStmtCacheErrorsAndBindings(t *testing.T) {
	db := openCache(t)
	ctx := context.Background()
	const ins = "INSERT INTO t (x, s, b) VALUES (?, ?, ?)"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, ins, 1, "dup", []byte{1}); err == nil {
		t.Fatal("duplicate inserted")
	}
	if _, err := tx.ExecContext(ctx, ins, 11, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, ins, 12, "s12", []byte{12}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, ins, 13, nil, nil); err != nil {
		t.Fatal(err)
	}
	var ret int
	err = tx.QueryRowContext(ctx, "INSERT INTO t (x, s, b) VALUES (?, ?, ?) RETURNING x", 2, "dup", nil).Scan(&ret)
	if err == nil {
		t.Fatal("duplicate inserted by RETURNING")
	}
	if err := tx.QueryRowContext(ctx, "INSERT INTO t (x, s, b) VALUES (?, ?, ?) RETURNING x", 14, nil, nil).Scan(&ret); err != nil || ret != 14 {
		t.Fatalf("%d %v", ret, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []int{11, 13, 14} {
		var s sql.NullString
		var b []byte
		if err := db.QueryRow("SELECT s, b FROM t WHERE x = ?", x).Scan(&s, &b); err != nil {
			t.Fatal(err)
		}
		if s.Valid || b != nil {
			t.Errorf("row %d: %v %v (a previous use's parameter leaked)", x, s, b)
		}
	}
	var s string
	if err := db.QueryRow("SELECT s FROM t WHERE x = 12").Scan(&s); err != nil || s != "s12" {
		t.Fatalf("%q %v", s, err)
	}
	if err := db.QueryRow("SELECT s FROM t WHERE x = 99").Scan(&s); !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
}
