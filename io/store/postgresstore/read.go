package postgresstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Queries are built only from these constants. The batch query joins publications on the day
// of the window start, so one statement reads one consistent snapshot of published runs.
const (
	selectBatch = `SELECT b.view, b.key, b.window_start, b.window_end, b.metrics::text
		FROM publications AS p JOIN batch_rows AS b ON b.day = p.day AND b.run = p.run
		WHERE p.day >= $1 AND p.day < $2 AND b.view = $3 AND b.window_start >= $4 AND b.window_start < $5`
	selectSpeed = `SELECT b.view, b.key, b.window_start, b.window_end, b.metrics::text
		FROM speed_rows AS b
		WHERE b.view = $1 AND b.window_start >= $2 AND b.window_start < $3`
	orderBy = ` ORDER BY b.window_start, b.key`
)

// Query returns the rows of one layer that match q, keys in byte order (see store.Driver).
func (s *Store) Query(ctx context.Context, q store.Query) ([]views.Row, error) {
	text, args := querySQL(q)
	rows, err := s.pool.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return scanRows(rows, q.Layer)
}

// querySQL returns the statement and parameters of q.
func querySQL(q store.Query) (string, []any) {
	text, args := selectSpeed, []any(nil)
	if q.Layer == views.Batch {
		text, args = selectBatch, []any{views.Day(q.From), q.To.UTC()}
	}
	args = append(args, q.View, q.From.UTC(), q.To.UTC())
	if q.Key != "" {
		args = append(args, q.Key)
		text += fmt.Sprintf(" AND b.key = $%d", len(args))
	}
	return text + orderBy, args
}

// scanRows reads the rows of layer.
func scanRows(rows pgx.Rows, layer views.Layer) ([]views.Row, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (views.Row, error) {
		r, err := scanRow(row)
		r.Layer = layer
		return r, err
	})
}

func scanRow(row pgx.CollectableRow) (views.Row, error) {
	var (
		r       views.Row
		metrics string
	)
	if err := row.Scan(&r.View, &r.Key, &r.WindowStart, &r.WindowEnd, &metrics); err != nil {
		return r, err
	}
	m, err := views.DecodeMetrics([]byte(metrics))
	if err != nil {
		return r, fmt.Errorf("decode metrics of %s/%s: %w", r.View, r.Key, err)
	}
	r.Metrics = m
	r.WindowStart, r.WindowEnd = r.WindowStart.UTC(), r.WindowEnd.UTC()
	return r, nil
}

// Publications returns the published days and their runs, ordered by day.
func (s *Store) Publications(ctx context.Context) ([]store.Publication, error) {
	rows, err := s.pool.Query(ctx, `SELECT day, run, published_at FROM publications ORDER BY day`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Publication, error) {
		var p store.Publication
		err := row.Scan(&p.Day, &p.Run, &p.PublishedAt)
		p.Day, p.PublishedAt = p.Day.UTC(), p.PublishedAt.UTC()
		return p, err
	})
}

// SpeedWatermark returns the last recorded speed watermark (UTC), or the zero time if none.
func (s *Store) SpeedWatermark(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, speedWatermark).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
