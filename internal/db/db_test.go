package db

import (
	"context"
	"os"
	"path/filepath"
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
// a full fsync at commit, foreign keys, a busy timeout, and savepoint
// journals in memory (group commit's units are savepoints; on a temporary
// file each page they first change cost two write system calls inside the
// one writer's turn).
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "temp_store": "2", "busy_timeout": "10000"}
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
