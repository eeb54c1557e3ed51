package db

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSQLitePathWithURIMetacharacters: directories whose names hold '#',
// '?' or '%' must each get their own database file (an unescaped '#' once
// made every such path open one shared, truncated file name).
func TestSQLitePathWithURIMetacharacters(t *testing.T) {
	base := t.TempDir()
	ctx := context.Background()
	for _, name := range []string{"a#1", "a#2", "b?x=1", "c%41", "d e"} {
		dir := filepath.Join(base, name)
		d, err := Open(ctx, "", dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := d.SQL.Exec("CREATE TABLE marker (n integer)"); err != nil {
			t.Fatalf("%s: the database is not fresh: %v", name, err)
		}
		d.Close()
		if _, err := os.Stat(filepath.Join(dir, "danbao.db")); err != nil {
			t.Fatalf("%s: file not where expected: %v", name, err)
		}
	}
	if stray, _ := filepath.Glob(filepath.Join(base, "a*")); len(stray) != 2 {
		t.Fatalf("stray files: %v", stray)
	}
}

// TestSQLitePragmas: every pooled SQLite connection runs in WAL mode with
// a full fsync at commit, a checkpoint every WALCheckpointPages pages,
// foreign keys, a busy timeout, and temporary storage as by default (sorts
// spill to files however large).
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "temp_store": "0", "busy_timeout": "10000",
		"wal_autocheckpoint": strconv.Itoa(WALCheckpointPages)}
	// Two connections held at once: the second is a fresh one from the pool.
	var conns []interface{ Close() error }
	for i := range 2 {
		c, err := d.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for name, v := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, name, err)
			}
			if got != v {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, name, got, v)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestSavepointJournalStaysInMemory: a savepoint whose journal grows past
// SQLite's default spill (64 KiB) but stays under StatementJournalSpill
// opens no temporary file (one more file descriptor), so group commit's
// units write none. Linux only (/proc/self/fd).
func TestSavepointJournalStaysInMemory(t *testing.T) {
	if spillErr != nil {
		t.Fatal(spillErr)
	}
	fds := func() int {
		t.Helper()
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		return len(es)
	}
	fds()
	ctx := context.Background()
	pool, err := sql.Open("sqlite", SQLiteDSN(filepath.Join(t.TempDir(), "j.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// 1 MiB of rows, committed: pages a savepoint must journal when it
	// changes them.
	exec("CREATE TABLE t (n integer, b blob)")
	exec("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 256) INSERT INTO t SELECT n, randomblob(4000) FROM s")
	before := fds()
	exec("BEGIN IMMEDIATE")
	exec("SAVEPOINT unit")
	exec("UPDATE t SET n = n + 1, b = randomblob(4000)")
	during := fds()
	exec("RELEASE unit")
	exec("COMMIT")
	if during != before {
		t.Fatalf("a savepoint journal of about 1 MiB opened %d file(s)", during-before)
	}
}
