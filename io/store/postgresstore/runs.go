package postgresstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/beamline/beamline/io/store"
)

// RecordRun writes the history of a batch run, replacing what was recorded for its ID.
func (s *Store) RecordRun(ctx context.Context, r store.RunInfo) error {
	days := make([]time.Time, len(r.Days))
	for i, d := range r.Days {
		days[i] = d.UTC()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO runs (run, days, status, started, ended, report) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (run) DO UPDATE SET days = excluded.days, status = excluded.status, started = excluded.started,
			ended = excluded.ended, report = excluded.report`,
		r.Run, days, r.Status, nullTime(r.Started), nullTime(r.Ended), r.Report)
	return err
}

// Runs returns the recorded batch runs, the newest first (see store.Store).
func (s *Store) Runs(ctx context.Context) ([]store.RunInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT run, days, status, started, ended, report FROM runs`)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.RunInfo, error) {
		var (
			r              store.RunInfo
			started, ended *time.Time
		)
		err := row.Scan(&r.Run, &r.Days, &r.Status, &started, &ended, &r.Report)
		for i := range r.Days {
			r.Days[i] = r.Days[i].UTC()
		}
		if started != nil {
			r.Started = started.UTC()
		}
		if ended != nil {
			r.Ended = ended.UTC()
		}
		return r, err
	})
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// missingTable says whether err is PostgreSQL's undefined_table: a store from before run history,
// opened read-only (which creates nothing), has no runs recorded.
func missingTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
