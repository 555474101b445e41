package sqlitestore

import (
	"context"
	"database/sql"
)

// schema is idempotent: every statement may run against an existing store.
var schema = []string{
	// Before the first table only: a new store gives the pages that Retain frees back to the
	// file system (a no-op on an existing store).
	`PRAGMA auto_vacuum = INCREMENTAL`,
	`CREATE TABLE IF NOT EXISTS batch_rows (
		run          TEXT    NOT NULL,
		view         TEXT    NOT NULL,
		key          TEXT    NOT NULL,
		window_start INTEGER NOT NULL,
		window_end   INTEGER NOT NULL,
		day          INTEGER NOT NULL,
		metrics      TEXT    NOT NULL,
		PRIMARY KEY (run, view, key, window_start)
	) WITHOUT ROWID`,
	// Serves the join with publications, and garbage collection of (run, day).
	`CREATE INDEX IF NOT EXISTS batch_rows_by_day ON batch_rows (day, run, view, window_start, key)`,
	`CREATE TABLE IF NOT EXISTS speed_rows (
		view         TEXT    NOT NULL,
		key          TEXT    NOT NULL,
		window_start INTEGER NOT NULL,
		window_end   INTEGER NOT NULL,
		metrics      TEXT    NOT NULL,
		weight       INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (view, key, window_start)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS speed_rows_by_time ON speed_rows (view, window_start, key)`,
	`CREATE TABLE IF NOT EXISTS publications (
		day          INTEGER PRIMARY KEY,
		run          TEXT    NOT NULL,
		published_at INTEGER NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS runs (
		run     TEXT    PRIMARY KEY,
		days    TEXT    NOT NULL,
		status  TEXT    NOT NULL,
		started INTEGER NOT NULL,
		ended   INTEGER NOT NULL,
		report  TEXT    NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS meta (
		name  TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) WITHOUT ROWID`,
}

func (s *Store) createSchema(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range schema {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return addWeight(ctx, tx)
	})
}

// addWeight adds the weight column to the speed rows of a store created before it existed
// (their weight is 0, so the next version of each row replaces it).
func addWeight(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('speed_rows') WHERE name = 'weight'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	_, err := tx.ExecContext(ctx, `ALTER TABLE speed_rows ADD COLUMN weight INTEGER NOT NULL DEFAULT 0`)
	return err
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
