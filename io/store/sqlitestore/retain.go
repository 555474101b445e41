package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/beamline/beamline/io/store"
)

// dayMs is a day in milliseconds, the unit of the store's times.
const dayMs = 24 * 60 * 60 * 1000

// Retain deletes the speed rows and unpublished runs that r names (see store.Store) in one
// transaction, then gives the freed pages back to the file system (incremental vacuum; stores
// created before it was turned on keep their pages for reuse).
func (s *Store) Retain(ctx context.Context, r store.Retention) (store.Swept, error) {
	var sw store.Swept
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if !r.SpeedBefore.IsZero() {
			res, err := tx.ExecContext(ctx, `DELETE FROM speed_rows WHERE window_start < ?
				AND window_start - window_start % ? IN (SELECT day FROM publications)`, millis(r.SpeedBefore), dayMs)
			if err != nil {
				return err
			}
			if sw.SpeedRows, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		if r.UnpublishedBefore.IsZero() {
			return nil
		}
		runs, err := unpublishedRuns(ctx, tx)
		if err != nil {
			return err
		}
		for _, run := range runs {
			if started, ok := store.RunStart(run); !ok || !started.Before(r.UnpublishedBefore) {
				continue
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM batch_rows WHERE run = ?`, run)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			sw.BatchRows += n
		}
		return nil
	})
	if err != nil {
		return sw, err
	}
	_, err = s.w.ExecContext(ctx, `PRAGMA incremental_vacuum`)
	return sw, err
}

// unpublishedRuns returns the runs that have rows and serve no day.
func unpublishedRuns(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT run FROM batch_rows WHERE run NOT IN (SELECT run FROM publications)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var run string
		if err := rows.Scan(&run); err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, rows.Err()
}
