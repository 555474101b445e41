package sqlitestore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
)

// RecordRun writes the history of a batch run, replacing what was recorded for its ID. Days are
// stored as a JSON array of Unix milliseconds, times as Unix milliseconds (0: none).
func (s *Store) RecordRun(ctx context.Context, r store.RunInfo) error {
	days := make([]int64, len(r.Days))
	for i, d := range r.Days {
		days[i] = millis(d)
	}
	b, err := json.Marshal(days)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO runs (run, days, status, started, ended, report) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (run) DO UPDATE SET days = excluded.days, status = excluded.status, started = excluded.started,
			ended = excluded.ended, report = excluded.report`,
		r.Run, string(b), r.Status, millisOrZero(r.Started), millisOrZero(r.Ended), r.Report)
	return err
}

// Runs returns the recorded batch runs, the newest first (see store.Store).
func (s *Store) Runs(ctx context.Context) ([]store.RunInfo, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT run, days, status, started, ended, report FROM runs`)
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return nil, nil // a store from before run history, opened read-only: no runs recorded
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RunInfo
	for rows.Next() {
		var (
			r              store.RunInfo
			days           string
			started, ended int64
		)
		if err := rows.Scan(&r.Run, &days, &r.Status, &started, &ended, &r.Report); err != nil {
			return nil, err
		}
		var ms []int64
		if err := json.Unmarshal([]byte(days), &ms); err != nil {
			return nil, errors.Join(errors.New("bad days of run "+r.Run), err)
		}
		for _, m := range ms {
			r.Days = append(r.Days, fromMillis(m))
		}
		r.Started, r.Ended = timeOrZero(started), timeOrZero(ended)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}
