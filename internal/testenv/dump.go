package testenv

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DumpDatabase returns everything the environment's database holds as one
// string, for tests that prove a secret is never stored in the clear: on
// SQLite the raw bytes of the database file and its WAL and shared-memory
// files; on PostgreSQL the raw value of every text, character and bytea
// column of every table in the test's schema (bytea as its bytes, not
// hex-escaped).
func DumpDatabase(t testing.TB, e *Env) string {
	t.Helper()
	var buf bytes.Buffer
	if e.Dialect != Postgres {
		base := filepath.Join(e.App.Config.DataDir, "danbao.db")
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			b, err := os.ReadFile(base + suffix)
			if errors.Is(err, fs.ErrNotExist) && suffix != "" {
				continue
			}
			if err != nil {
				t.Fatalf("dump: %v", err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		return buf.String()
	}
	ctx := context.Background()
	db := e.App.DB.SQL
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema()
		  AND data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb')
		ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			t.Fatalf("dump: %v", err)
		}
		cols = append(cols, c)
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if len(cols) == 0 {
		t.Fatal("dump: no text or bytea columns found in the test schema")
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	for _, c := range cols {
		r, err := db.QueryContext(ctx, "SELECT "+quote(c.column)+" FROM "+quote(c.table))
		if err != nil {
			t.Fatalf("dump %s.%s: %v", c.table, c.column, err)
		}
		for r.Next() {
			var v []byte
			if err := r.Scan(&v); err != nil {
				t.Fatalf("dump %s.%s: %v", c.table, c.column, err)
			}
			buf.Write(v)
			buf.WriteByte('\n')
		}
		if err := r.Close(); err != nil {
			t.Fatalf("dump %s.%s: %v", c.table, c.column, err)
		}
	}
	return buf.String()
}
