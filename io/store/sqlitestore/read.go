package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Queries are built only from these constants. The batch query joins publications on the day
// of the window start, so one statement reads one consistent snapshot of published runs; CROSS
// JOIN makes SQLite loop over the published days first and look up each day's run in
// batch_rows_by_day, instead of scanning the rows of every run.
const (
	selectBatch = `SELECT b.key, b.window_start, b.window_end, b.metrics
		FROM publications AS p CROSS JOIN batch_rows AS b ON b.day = p.day AND b.run = p.run
		WHERE p.day >= ? AND p.day < ? AND b.view = ? AND b.window_start >= ? AND b.window_start < ?`
	selectSpeed = `SELECT b.key, b.window_start, b.window_end, b.metrics
		FROM speed_rows AS b
		WHERE b.view = ? AND b.window_start >= ? AND b.window_start < ?`
	andKey  = ` AND b.key = ?`
	orderBy = ` ORDER BY b.window_start, b.key`
)

// Query returns the rows of one layer that match q (see store.Driver).
func (s *Store) Query(ctx context.Context, q store.Query) ([]views.Row, error) {
	text, args := querySQL(q)
	stmt, err := s.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows, q.View, q.Layer)
}

// querySQL returns the statement and parameters of q.
func querySQL(q store.Query) (string, []any) {
	text, args := selectSpeed, []any(nil)
	if q.Layer == views.Batch {
		text, args = selectBatch, []any{millis(views.Day(q.From)), millis(q.To)}
	}
	args = append(args, q.View, millis(q.From), millis(q.To))
	if q.Key != "" {
		text += andKey
		args = append(args, q.Key)
	}
	return text + orderBy, args
}

// scanRows reads the rows of view (the query's: not read back per row) and layer.
func scanRows(rows *sql.Rows, view string, layer views.Layer) ([]views.Row, error) {
	defer rows.Close()
	var out []views.Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		r.View, r.Layer = view, layer
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanRow(rows *sql.Rows) (views.Row, error) {
	var (
		r          views.Row
		start, end int64
		metrics    string
	)
	if err := rows.Scan(&r.Key, &start, &end, &metrics); err != nil {
		return r, err
	}
	m, err := views.DecodeMetrics(metrics)
	if err != nil {
		return r, fmt.Errorf("decode metrics of %s: %w", r.Key, err)
	}
	r.Metrics = m
	r.WindowStart, r.WindowEnd = fromMillis(start), fromMillis(end)
	return r, nil
}

// Publications returns the published days and their runs, ordered by day.
func (s *Store) Publications(ctx context.Context) ([]store.Publication, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT day, run, published_at FROM publications ORDER BY day`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Publication
	for rows.Next() {
		var p store.Publication
		var day, at int64
		if err := rows.Scan(&day, &p.Run, &at); err != nil {
			return nil, err
		}
		p.Day, p.PublishedAt = fromMillis(day), fromMillis(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// SpeedWatermark returns the last recorded speed watermark (UTC), or the zero time if none.
func (s *Store) SpeedWatermark(ctx context.Context) (time.Time, error) {
	var ms int64
	err := s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, speedWatermark).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return fromMillis(ms), nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
