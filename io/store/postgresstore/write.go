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

// The upserts write any number of rows in one statement: each column is bound as one array and
// the server unnests them. A statement must not update a row twice, so callers pass rows with
// distinct keys (see lastWins).
const (
	upsertBatch = `INSERT INTO batch_rows (run, view, key, window_start, window_end, day, metrics)
		SELECT $1, v, k, ws, we, d, m::jsonb
		FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::text[])
			AS t(v, k, ws, we, d, m)
		ON CONFLICT (run, view, key, window_start) DO UPDATE SET
			window_end = excluded.window_end, day = excluded.day, metrics = excluded.metrics`
	upsertSpeed = `INSERT INTO speed_rows (view, key, window_start, window_end, metrics, weight)
		SELECT v, k, ws, we, m::jsonb, w
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::bigint[])
			AS t(v, k, ws, we, m, w)
		ON CONFLICT (view, key, window_start) DO UPDATE SET
			window_end = excluded.window_end, metrics = excluded.metrics, weight = excluded.weight
			WHERE excluded.weight >= speed_rows.weight`
)

// columns holds rows as one array per column, the statements' parameters.
type columns struct {
	view, key, metrics   []string
	start, end, startDay []time.Time
	weight               []int64
}

// WriteBatch writes rows of the unpublished batch run run, in one statement (see store.Driver).
func (s *Store) WriteBatch(ctx context.Context, run string, rows []views.Row) error {
	return s.writeRows(ctx, rows, func(c columns) (string, []any) {
		return upsertBatch, []any{run, c.view, c.key, c.start, c.end, c.startDay, c.metrics}
	})
}

// UpsertSpeed writes speed-layer rows in one statement (see store.Driver).
func (s *Store) UpsertSpeed(ctx context.Context, rows []views.Row) error {
	return s.writeRows(ctx, heaviestWins(rows), func(c columns) (string, []any) {
		return upsertSpeed, []any{c.view, c.key, c.start, c.end, c.metrics, c.weight}
	})
}

// writeRows runs the statement that stmt returns for rows.
func (s *Store) writeRows(ctx context.Context, rows []views.Row, stmt func(columns) (string, []any)) error {
	cols, err := toColumns(lastWins(rows))
	if err != nil {
		return err
	}
	sql, args := stmt(cols)
	_, err = s.pool.Exec(ctx, sql, args...)
	return err
}

// rowKey identifies a row within a layer (and a run).
type rowKey struct {
	view, key string
	start     int64 // microseconds, the database's precision
}

func keyOf(r views.Row) rowKey { return rowKey{r.View, r.Key, r.WindowStart.UnixMicro()} }

// lastWins returns rows without those that a later row with the same view, key and window
// start replaces, in their original order.
func lastWins(rows []views.Row) []views.Row {
	return winners(rows, func(_, _ views.Row) bool { return true })
}

// heaviestWins returns rows without those that another row with the same view, key and window
// start outweighs (views.Row.Weight; of equal ones the later wins), in their original order.
func heaviestWins(rows []views.Row) []views.Row {
	return winners(rows, func(old, later views.Row) bool { return later.Weight() >= old.Weight() })
}

// winners returns, in their original order, the rows that no other row with the same view, key
// and window start replaces; replaces says whether a later row replaces an earlier one.
func winners(rows []views.Row, replaces func(old, later views.Row) bool) []views.Row {
	best := make(map[rowKey]int, len(rows))
	for i, r := range rows {
		if j, ok := best[keyOf(r)]; !ok || replaces(rows[j], r) {
			best[keyOf(r)] = i
		}
	}
	if len(best) == len(rows) {
		return rows
	}
	out := make([]views.Row, 0, len(best))
	for i, r := range rows {
		if best[keyOf(r)] == i {
			out = append(out, r)
		}
	}
	return out
}

func toColumns(rows []views.Row) (columns, error) {
	n := len(rows)
	c := columns{view: make([]string, n), key: make([]string, n), metrics: make([]string, n),
		start: make([]time.Time, n), end: make([]time.Time, n), startDay: make([]time.Time, n), weight: make([]int64, n)}
	for i, r := range rows {
		m, err := views.EncodeMetrics(r.Metrics)
		if err != nil {
			return c, fmt.Errorf("encode metrics of %s/%s: %w", r.View, r.Key, err)
		}
		c.view[i], c.key[i], c.metrics[i] = r.View, r.Key, string(m)
		c.start[i], c.end[i], c.startDay[i] = r.WindowStart.UTC(), r.WindowEnd.UTC(), views.Day(r.WindowStart)
		c.weight[i] = r.Weight()
	}
	return c, nil
}

// publishLock keeps publishers apart (a second one waits for the first to commit) without
// blocking readers, which take only ACCESS SHARE locks.
const publishLock = `LOCK TABLE publications IN SHARE ROW EXCLUSIVE MODE`

// Publish makes run the batch run that serves each of days in one transaction, and in the same
// transaction deletes the rows that the runs it replaces wrote for those days; they keep their rows
// for the days they still serve, and rows of runs never published are kept.
func (s *Store) Publish(ctx context.Context, run string, days []time.Time) error {
	now := time.Now().UTC()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, publishLock); err != nil {
			return err
		}
		for _, d := range days {
			if err := publishDay(ctx, tx, run, d.UTC(), now); err != nil {
				return fmt.Errorf("day %s: %w", d.Format(time.DateOnly), err)
			}
		}
		return nil
	})
}

// publishDay points day at run and deletes the rows of the run it replaces for that day, unless
// a run that started later serves it.
func publishDay(ctx context.Context, tx pgx.Tx, run string, day, now time.Time) error {
	var old string
	err := tx.QueryRow(ctx, `SELECT run FROM publications WHERE day = $1`, day).Scan(&old)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if old > run {
		return fmt.Errorf("%w (%s)", store.ErrSuperseded, old)
	}
	_, err = tx.Exec(ctx, `INSERT INTO publications (day, run, published_at) VALUES ($1, $2, $3)
		ON CONFLICT (day) DO UPDATE SET run = excluded.run, published_at = excluded.published_at`,
		day, run, now)
	if err != nil || old == "" || old == run {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM batch_rows WHERE day = $1 AND run = $2`, day, old)
	return err
}

// speedWatermark is the meta row that holds the speed watermark.
const speedWatermark = "speed_watermark"

// SetSpeedWatermark records how far (in event time) the speed layer has processed, to the
// microsecond.
func (s *Store) SetSpeedWatermark(ctx context.Context, t time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, speedWatermark, t.UTC())
	return err
}
