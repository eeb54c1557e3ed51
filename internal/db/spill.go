package db

import (
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// StatementJournalSpill is how large (bytes) an SQLite statement or
// savepoint journal may grow in memory before SQLite moves it to a
// temporary file (SQLITE_CONFIG_STMTJRNL_SPILL; SQLite's default is 64
// KiB). Group commit runs each unit in a savepoint of one transaction
// (docs/architecture.md, Performance), and a group's savepoint journal
// soon passes 64 KiB: from then on every page a unit first changes cost
// two write system calls to a temporary file, inside the one writer's
// turn. 4 MiB keeps a group's journal in memory and still bounds it; the
// other temporary storage (sorts, GROUP BY) keeps spilling to files as by
// default, however large.
const StatementJournalSpill = 4 << 20

// spillErr is why the setting could not be applied (nil when it was).
var spillErr = configureStatementJournalSpill(StatementJournalSpill)

// configureStatementJournalSpill sets SQLITE_CONFIG_STMTJRNL_SPILL. SQLite
// accepts configuration only before its first connection is opened, so it
// runs at package initialisation; later it fails (SQLITE_MISUSE) and the
// default applies.
func configureStatementJournalSpill(n int32) error {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, 8)
	if va == 0 {
		return fmt.Errorf("sqlite: no memory for the configuration's argument")
	}
	defer libc.Xfree(tls, va)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, libc.VaList(va, n)); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: SQLITE_CONFIG_STMTJRNL_SPILL: result code %d", rc)
	}
	return nil
}
