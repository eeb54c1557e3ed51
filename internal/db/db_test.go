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
