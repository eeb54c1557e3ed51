package migrations

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"danbao/ent"
	_ "danbao/ent/runtime" // defaults, validators and the append-only hooks

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Pending applies every migration to a scratch database of dialect d (a
// temporary SQLite file, or a fresh schema in the PostgreSQL database at
// pgURL) and returns the statements ent would still need to reach its
// schema: "" when the migrations are complete.
func Pending(ctx context.Context, d, pgURL string) (string, error) {
	return PendingFS(ctx, d, pgURL, files)
}

// PendingFS is Pending with the migrations of fsys (laid out as Files).
func PendingFS(ctx context.Context, d, pgURL string, fsys fs.FS) (string, error) {
	var (
		sdb     *sql.DB
		cleanup func()
		err     error
	)
	if d == "sqlite" {
		d = dialect.SQLite
	}
	switch d {
	case dialect.SQLite:
		dir, err := os.MkdirTemp("", "migdiff")
		if err != nil {
			return "", err
		}
		sdb, err = sql.Open("sqlite", "file:"+filepath.Join(dir, "x.db")+"?_pragma=foreign_keys(1)")
		if err != nil {
			return "", err
		}
		cleanup = func() { sdb.Close(); os.RemoveAll(dir) }
	case dialect.Postgres:
		if pgURL == "" {
			return "", fmt.Errorf("a PostgreSQL URL is needed")
		}
		sdb, cleanup, err = ScratchSchema(ctx, pgURL)
		if err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unknown dialect %q", d)
	}
	defer cleanup()
	if _, err := ApplyFS(ctx, sdb, d, fsys); err != nil {
		return "", err
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(d, sdb)))
	var buf bytes.Buffer
	if err := client.Schema.WriteTo(ctx, &buf); err != nil {
		return "", err
	}
	var stmts []string
	for _, line := range strings.Split(buf.String(), "\n") {
		switch strings.TrimSpace(line) {
		case "", "BEGIN;", "COMMIT;", "PRAGMA foreign_keys = off;", "PRAGMA foreign_keys = on;":
			continue
		}
		stmts = append(stmts, line)
	}
	if len(stmts) == 0 {
		return "", nil
	}
	return strings.Join(stmts, "\n") + "\n", nil
}

// ScratchSchema creates a uniquely named schema in the PostgreSQL database
// at pgURL and returns a pool whose connections use it as search_path, and a
// cleanup that drops it. Tests use it to isolate each database.
func ScratchSchema(ctx context.Context, pgURL string) (*sql.DB, func(), error) {
	u, err := ScratchSchemaURL(ctx, pgURL)
	if err != nil {
		return nil, nil, err
	}
	sdb, err := sql.Open("pgx", u.URL)
	if err != nil {
		u.Drop()
		return nil, nil, err
	}
	return sdb, func() { sdb.Close(); u.Drop() }, nil
}

// Scratch is a throwaway PostgreSQL schema.
type Scratch struct {
	URL  string // the database URL with search_path set to the schema
	Drop func() // drops the schema and everything in it
}

// ScratchSchemaURL creates a uniquely named schema and returns a URL that
// selects it.
func ScratchSchemaURL(ctx context.Context, pgURL string) (Scratch, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		return Scratch{}, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close()
		return Scratch{}, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		admin.Close()
		return Scratch{}, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return Scratch{URL: u.String(), Drop: func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		admin.Close()
	}}, nil
}
