package migrations_test

import (
	"context"
	"os"
	"testing"

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
