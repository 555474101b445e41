package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// chunkRows is how many rows one INSERT statement writes: fewer, larger statements are much
// faster than one per row, and 128 rows x 7 columns stays far below SQLite's parameter limit.
const chunkRows = 128

// upsert is an INSERT ... ON CONFLICT statement of a view-row table, built only from constants.
type upsert struct {
	head  string // INSERT INTO table (columns) VALUES
	tuple string // one row's placeholders
	tail  string // ON CONFLICT clause
	cols  int
}

var (
	upsertBatch = upsert{
		head:  `INSERT INTO batch_rows (run, view, key, window_start, window_end, day, metrics) VALUES `,
		tuple: `(?, ?, ?, ?, ?, ?, ?)`,
		tail: ` ON CONFLICT (run, view, key, window_start) DO UPDATE SET
			window_end = excluded.window_end, day = excluded.day, metrics = excluded.metrics`,
		cols: 7,
	}
	upsertSpeed = upsert{
		head:  `INSERT INTO speed_rows (view, key, window_start, window_end, metrics, weight) VALUES `,
		tuple: `(?, ?, ?, ?, ?, ?)`,
		tail: ` ON CONFLICT (view, key, window_start) DO UPDATE SET
			window_end = excluded.window_end, metrics = excluded.metrics, weight = excluded.weight
			WHERE excluded.weight >= speed_rows.weight`,
		cols: 6,
	}
)

// sql returns the statement that writes n rows.
func (u upsert) sql(n int) string {
	return u.head + strings.Repeat(u.tuple+", ", n-1) + u.tuple + u.tail
}

// rowArgs appends the bound parameters of one row, given its metrics as JSON.
type rowArgs func(args []any, r views.Row, metrics string) []any

// WriteBatch writes rows of the unpublished batch run run, in one transaction (see
// store.Driver).
func (s *Store) WriteBatch(ctx context.Context, run string, rows []views.Row) error {
	return s.writeRows(ctx, upsertBatch, rows, func(a []any, r views.Row, m string) []any {
		return append(a, run, r.View, r.Key, millis(r.WindowStart), millis(r.WindowEnd), millis(views.Day(r.WindowStart)), m)
	})
}

// UpsertSpeed writes speed-layer rows in one transaction (see store.Driver).
func (s *Store) UpsertSpeed(ctx context.Context, rows []views.Row) error {
	return s.writeRows(ctx, upsertSpeed, rows, func(a []any, r views.Row, m string) []any {
		return append(a, r.View, r.Key, millis(r.WindowStart), millis(r.WindowEnd), m, r.Weight())
	})
}

func (s *Store) writeRows(ctx context.Context, u upsert, rows []views.Row, args rowArgs) error {
	// In key order, each B-tree page is visited once: shuffled rows of a day took 4x longer.
	rows = slices.SortedFunc(slices.Values(rows), func(a, b views.Row) int {
		return cmp.Or(strings.Compare(a.View, b.View), strings.Compare(a.Key, b.Key), a.WindowStart.Compare(b.WindowStart))
	})
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return execChunks(ctx, tx, u, rows, args)
	})
}

// execChunks writes rows chunkRows at a time with at most two prepared statements.
func execChunks(ctx context.Context, tx *sql.Tx, u upsert, rows []views.Row, args rowArgs) error {
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	buf := make([]any, 0, min(len(rows), chunkRows)*u.cols)
	for len(rows) > 0 {
		n := min(len(rows), chunkRows)
		st, err := prepare(ctx, tx, stmts, u, n)
		if err != nil {
			return err
		}
		if buf, err = appendArgs(buf[:0], rows[:n], args); err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, buf...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func prepare(ctx context.Context, tx *sql.Tx, stmts map[int]*sql.Stmt, u upsert, n int) (*sql.Stmt, error) {
	if st, ok := stmts[n]; ok {
		return st, nil
	}
	st, err := tx.PrepareContext(ctx, u.sql(n))
	if err != nil {
		return nil, err
	}
	stmts[n] = st
	return st, nil
}

func appendArgs(buf []any, rows []views.Row, args rowArgs) ([]any, error) {
	for _, r := range rows {
		m, err := views.EncodeMetrics(r.Metrics)
		if err != nil {
			return nil, fmt.Errorf("encode metrics of %s/%s: %w", r.View, r.Key, err)
		}
		buf = args(buf, r, string(m))
	}
	return buf, nil
}

// Publish makes run the batch run that serves each of days in one transaction, and in the same
// transaction deletes the rows that the runs it replaces wrote for those days; they keep their rows
// for the days they still serve, and rows of runs never published are kept.
func (s *Store) Publish(ctx context.Context, run string, days []time.Time) error {
	now := millis(time.Now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range days {
			if err := publishDay(ctx, tx, run, millis(d), now); err != nil {
				return fmt.Errorf("day %s: %w", d.Format(time.DateOnly), err)
			}
		}
		return nil
	})
}

// publishDay points day at run and deletes the rows of the run it replaces for that day, unless
// a run that started later serves it.
func publishDay(ctx context.Context, tx *sql.Tx, run string, day, now int64) error {
	var old string
	err := tx.QueryRowContext(ctx, `SELECT run FROM publications WHERE day = ?`, day).Scan(&old)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if old > run {
		return fmt.Errorf("%w (%s)", store.ErrSuperseded, old)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO publications (day, run, published_at) VALUES (?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET run = excluded.run, published_at = excluded.published_at`,
		day, run, now)
	if err != nil || old == "" || old == run {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM batch_rows WHERE day = ? AND run = ?`, day, old)
	return err
}

// speedWatermark is the meta row that holds the speed watermark.
const speedWatermark = "speed_watermark"

// SetSpeedWatermark records how far (in event time) the speed layer has processed, to the
// millisecond.
func (s *Store) SetSpeedWatermark(ctx context.Context, t time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, speedWatermark, millis(t))
	return err
}

func millis(t time.Time) int64 { return t.UnixMilli() }
