package db

import (
	"context"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
)

// WALAutoCheckpoint is the WAL size, in pages, at which a committing
// writer checkpoints by itself (SQLite's own default is 1,000). It is the
// safety net behind Checkpoints: under load the background checkpoint
// keeps the WAL well below it, so writers do not copy the WAL into the
// database file (and fsync it) inside their commit, holding the one write
// lock meanwhile.
const WALAutoCheckpoint = 16384 // 64 MiB of 4 KiB pages

// CheckpointEvery is how often Checkpoints runs a passive checkpoint.
const CheckpointEvery = 200 * time.Millisecond

// Checkpoints copies committed WAL frames into an SQLite database file in
// the background until ctx ends: every CheckpointEvery a PASSIVE
// checkpoint, which neither waits for nor blocks readers and writers. It
// returns at once on PostgreSQL.
func (d *DB) Checkpoints(ctx context.Context, log *slog.Logger) {
	if d.Dialect != dialect.SQLite {
		return
	}
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := d.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "db: background WAL checkpoint failed; writers checkpoint at the WAL's size limit", "error", err)
		}
	}
}

// Checkpoint runs one PASSIVE checkpoint (SQLite) and returns how many
// WAL frames it has copied into the database file in all.
func (d *DB) Checkpoint(ctx context.Context) (int, error) {
	var busy, logFrames, copied int
	err := d.SQL.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	return copied, err
}
