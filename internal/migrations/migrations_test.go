package migrations_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"danbao/internal/db"
	"danbao/internal/migrations"

	"entgo.io/ent/dialect"
)

// TestMigrationsMatchSchema proves that the versioned migrations build
// exactly the schema ent describes: after applying them, ent has nothing
// left to do. When it fails, the message is the next migration to write.
func TestMigrationsMatchSchema(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		t.Run(d, func(t *testing.T) {
			url := os.Getenv("DANBAO_TEST_DATABASE_URL")
			if d == dialect.Postgres && url == "" {
				t.Skip("PostgreSQL not configured: set DANBAO_TEST_DATABASE_URL")
			}
			pending, err := migrations.Pending(context.Background(), d, url)
			if err != nil {
				t.Fatal(err)
			}
			if pending != "" {
				t.Fatalf("the migrations of %s lag the ent schema; add a migration with:\n%s", d, pending)
			}
		})
	}
}

func TestListIsOrderedAndComplete(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		ms, err := migrations.List(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].Version != 1 {
			t.Fatalf("%s: %d migrations", d, len(ms))
		}
	}
	sq, _ := migrations.List(dialect.SQLite)
	pg, _ := migrations.List(dialect.Postgres)
	if len(sq) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d: each change needs both", len(sq), len(pg))
	}
	for i := range sq {
		if sq[i].Name != pg[i].Name {
			t.Fatalf("migration %d is %q on sqlite and %q on postgres", i+1, sq[i].Name, pg[i].Name)
		}
	}
}

// scratch opens an empty database of dialect d, dropped when the test ends.
func scratch(t *testing.T, d string) *sql.DB {
	t.Helper()
	if d == dialect.Postgres {
		url := os.Getenv("DANBAO_TEST_DATABASE_URL")
		if url == "" {
			t.Skip("PostgreSQL not configured: set DANBAO_TEST_DATABASE_URL")
		}
		sdb, drop, err := migrations.ScratchSchema(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(drop)
		return sdb
	}
	d2, err := db.OpenSQLite(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	return d2.SQL
}

// set is a migrations folder with the same files for both dialects.
func set(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys["sqlite/"+name] = &fstest.MapFile{Data: []byte(body)}
		fsys["postgres/"+name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// recorded returns schema_migrations as version -> checksum.
func recorded(t *testing.T, sdb *sql.DB) map[int]string {
	t.Helper()
	rows, err := sdb.Query("SELECT version, checksum FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var (
			v   int
			sum sql.NullString
		)
		if err := rows.Scan(&v, &sum); err != nil {
			t.Fatal(err)
		}
		out[v] = sum.String
	}
	return out
}

func tableExists(sdb *sql.DB, name string) bool {
	_, err := sdb.Exec("SELECT count(*) FROM " + name)
	return err == nil
}

const (
	one = "CREATE TABLE m_one (id integer PRIMARY KEY);\n"
	two = "CREATE TABLE m_two (id integer PRIMARY KEY);\n"
)

// TestChecksumsRecorded: each applied migration's row carries the SHA-256
// of its file, on both engines, for the built-in migrations too.
func TestChecksumsRecorded(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		t.Run(d, func(t *testing.T) {
			sdb := scratch(t, d)
			if err := migrations.Apply(context.Background(), sdb, d); err != nil {
				t.Fatal(err)
			}
			ms, _ := migrations.List(d)
			got := recorded(t, sdb)
			if len(got) != len(ms) {
				t.Fatalf("%d rows for %d migrations", len(got), len(ms))
			}
			for _, m := range ms {
				body, err := fs.ReadFile(migrations.Files(), m.File)
				if err != nil {
					t.Fatal(err)
				}
				if got[m.Version] != sha(string(body)) {
					t.Fatalf("%s: recorded %q, want the file's SHA-256", m.File, got[m.Version])
				}
			}
		})
	}
}

// TestEditedMigrationRefused: once applied, a migration whose file changes
// stops the runner with an error naming the file, and nothing pending is
// applied after it.
func TestEditedMigrationRefused(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			sdb := scratch(t, d)
			if _, err := migrations.ApplyFS(ctx, sdb, d, set(map[string]string{"0001_one.sql": one})); err != nil {
				t.Fatal(err)
			}
			edited := set(map[string]string{
				"0001_one.sql": "-- a comment is an edit too\n" + one,
				"0002_two.sql": two,
			})
			applied, err := migrations.ApplyFS(ctx, sdb, d, edited)
			var ee *migrations.EditedError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v, want an EditedError", err)
			}
			want := migrations.Dir(d) + "/0001_one.sql"
			if ee.File != want || ee.Recorded != sha(one) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %+v does not name %s and its recorded checksum", ee, want)
			}
			if len(applied) != 0 || tableExists(sdb, "m_two") {
				t.Fatal("a pending migration was applied past an edited one")
			}
			// Restoring the file lets the runner go on.
			restored := set(map[string]string{"0001_one.sql": one, "0002_two.sql": two})
			applied, err = migrations.ApplyFS(ctx, sdb, d, restored)
			if err != nil || len(applied) != 1 || applied[0] != 2 {
				t.Fatalf("after restoring: applied %v, err %v", applied, err)
			}
		})
	}
}

// TestChecksumBackfill: a database migrated before checksums existed gets
// the column and its rows' checksums on the first start, and from then on
// an edit is caught.
func TestChecksumBackfill(t *testing.T) {
	for _, d := range []string{dialect.SQLite, dialect.Postgres} {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			sdb := scratch(t, d)
			// The runner's table and one applied migration as older builds left them.
			for _, q := range []string{
				`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name varchar(200) NOT NULL, applied_at timestamp NOT NULL)`,
				one,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'one', CURRENT_TIMESTAMP)`,
			} {
				if _, err := sdb.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			files := set(map[string]string{"0001_one.sql": one, "0002_two.sql": two})
			applied, err := migrations.ApplyFS(ctx, sdb, d, files)
			if err != nil || len(applied) != 1 || applied[0] != 2 {
				t.Fatalf("first start: applied %v, err %v", applied, err)
			}
			got := recorded(t, sdb)
			if got[1] != sha(one) || got[2] != sha(two) {
				t.Fatalf("checksums %v, want both files' SHA-256", got)
			}
			edited := set(map[string]string{"0001_one.sql": one, "0002_two.sql": two + "-- edited\n"})
			if _, err := migrations.ApplyFS(ctx, sdb, d, edited); !errors.As(err, new(*migrations.EditedError)) {
				t.Fatalf("edit after backfill: err = %v, want an EditedError", err)
			}
		})
	}
}
