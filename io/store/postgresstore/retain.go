package postgresstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/beamline/beamline/io/store"
)

// Retain deletes the speed rows and unpublished runs that r names (see store.Store) in one
// transaction. PostgreSQL reuses the space of deleted rows after its autovacuum.
func (s *Store) Retain(ctx context.Context, r store.Retention) (store.Swept, error) {
	var sw store.Swept
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !r.SpeedBefore.IsZero() {
			tag, err := tx.Exec(ctx, `DELETE FROM speed_rows AS s WHERE s.window_start < $1
				AND EXISTS (SELECT 1 FROM publications AS p WHERE p.day <= s.window_start AND s.window_start < p.day + interval '1 day')`,
				r.SpeedBefore.UTC())
			if err != nil {
				return err
			}
			sw.SpeedRows = tag.RowsAffected()
		}
		if r.UnpublishedBefore.IsZero() {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT DISTINCT run FROM batch_rows WHERE run NOT IN (SELECT run FROM publications)`)
		if err != nil {
			return err
		}
		runs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, run := range runs {
			if started, ok := store.RunStart(run); !ok || !started.Before(r.UnpublishedBefore) {
				continue
			}
			tag, err := tx.Exec(ctx, `DELETE FROM batch_rows WHERE run = $1`, run)
			if err != nil {
				return err
			}
			sw.BatchRows += tag.RowsAffected()
		}
		return nil
	})
	return sw, err
}
