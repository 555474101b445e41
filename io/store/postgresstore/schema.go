package postgresstore

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// schema is idempotent: every statement may run against an existing store.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS batch_rows (
		run          text COLLATE "C" NOT NULL,
		view         text COLLATE "C" NOT NULL,
		key          text COLLATE "C" NOT NULL,
		window_start timestamptz NOT NULL,
		window_end   timestamptz NOT NULL,
		day          timestamptz NOT NULL,
		metrics      jsonb       NOT NULL,
		PRIMARY KEY (run, view, key, window_start)
	)`,
	// Serves the join with publications, and the deletion of a replaced run's day.
	`CREATE INDEX IF NOT EXISTS batch_rows_by_day ON batch_rows (day, run, view, window_start, key)`,
	`CREATE TABLE IF NOT EXISTS speed_rows (
		view         text COLLATE "C" NOT NULL,
		key          text COLLATE "C" NOT NULL,
		window_start timestamptz NOT NULL,
		window_end   timestamptz NOT NULL,
		metrics      jsonb       NOT NULL,
		weight       bigint      NOT NULL DEFAULT 0,
		PRIMARY KEY (view, key, window_start)
	)`,
	// Stores created before speed rows had a weight: their rows weigh 0 until the next version.
	`ALTER TABLE speed_rows ADD COLUMN IF NOT EXISTS weight bigint NOT NULL DEFAULT 0`,
	`CREATE INDEX IF NOT EXISTS speed_rows_by_time ON speed_rows (view, window_start, key)`,
	`CREATE TABLE IF NOT EXISTS publications (
		day          timestamptz PRIMARY KEY,
		run          text COLLATE "C" NOT NULL,
		published_at timestamptz NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS runs (
		run     text COLLATE "C" PRIMARY KEY,
		days    timestamptz[] NOT NULL,
		status  text        NOT NULL,
		started timestamptz,
		ended   timestamptz,
		report  text        NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS meta (
		name  text PRIMARY KEY,
		value timestamptz NOT NULL
	)`,
}

// schemaLock is the transaction-scoped advisory lock taken while the schema is created: many
// workers open the store at once, and concurrent CREATE ... IF NOT EXISTS can fail in PostgreSQL.
const schemaLock = `SELECT pg_advisory_xact_lock(hashtext('beamline.postgresstore.schema'))`

// createSchema creates the schema called name (if not empty) and the store's tables in it.
func (s *Store) createSchema(ctx context.Context, name string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, schemaLock); err != nil {
			return err
		}
		if name != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}
