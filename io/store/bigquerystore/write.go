package bigquerystore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// insertChunk is how many rows one streaming insert sends (BigQuery recommends at most 500).
const insertChunk = 500

// lastVersion keeps versions increasing within this process even if the clock steps back.
var lastVersion atomic.Int64

// versions returns the first of n new versions: the writer's clock in microseconds, after every
// version this process handed out before. Microseconds stay below 2^53, so versions survive JSON
// numbers that a server or client reads as float64 (the emulator does).
func versions(n int) int64 {
	for {
		last, now := lastVersion.Load(), time.Now().UnixMicro()
		first := max(now, last+1)
		if lastVersion.CompareAndSwap(last, first+int64(n)-1) {
			return first
		}
	}
}

// WriteBatch appends rows of the unpublished batch run run; a later version of a row replaces
// an earlier one when read (see store.Driver).
func (s *Store) WriteBatch(ctx context.Context, run string, rows []views.Row) error {
	out := make([]*batchRow, len(rows))
	v := versions(len(rows))
	for i, r := range rows {
		m, err := views.EncodeMetrics(r.Metrics)
		if err != nil {
			return fmt.Errorf("encode metrics of %s/%s: %w", r.View, r.Key, err)
		}
		out[i] = &batchRow{Run: run, View: r.View, Key: r.Key, WindowStart: r.WindowStart.UTC(), WindowEnd: r.WindowEnd.UTC(),
			Day: views.Day(r.WindowStart), Metrics: string(m), Version: v + int64(i)}
	}
	return insert(ctx, s, batchTable, out)
}

// UpsertSpeed appends speed-layer rows; the heaviest version of a row wins when read (see
// store.Driver).
func (s *Store) UpsertSpeed(ctx context.Context, rows []views.Row) error {
	out := make([]*speedRow, len(rows))
	v := versions(len(rows))
	for i, r := range rows {
		m, err := views.EncodeMetrics(r.Metrics)
		if err != nil {
			return fmt.Errorf("encode metrics of %s/%s: %w", r.View, r.Key, err)
		}
		out[i] = &speedRow{View: r.View, Key: r.Key, WindowStart: r.WindowStart.UTC(), WindowEnd: r.WindowEnd.UTC(),
			Metrics: string(m), Version: v + int64(i)}
	}
	return insert(ctx, s, speedTable, out)
}

// insert streams rows into table, insertChunk at a time.
func insert[T any](ctx context.Context, s *Store, table string, rows []T) error {
	ins := s.dataset.Table(table).Inserter()
	for len(rows) > 0 {
		n := min(len(rows), insertChunk)
		if err := ins.Put(ctx, rows[:n]); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

// Publish makes run the batch run that serves each of days, atomically: it appends one
// publication row that lists them all. Each day must be a midnight UTC.
func (s *Store) Publish(ctx context.Context, run string, days []time.Time) error {
	utc := make([]time.Time, len(days))
	for i, d := range days {
		if !d.Equal(views.Day(d)) {
			return fmt.Errorf("day %s is not a midnight UTC", d.Format(time.RFC3339Nano))
		}
		utc[i] = d.UTC()
	}
	if len(days) == 0 {
		return nil
	}
	// The log is append-only: check first (nothing is appended for a superseded run), and
	// again after, since readers let the later-started run win a race between the two.
	if err := s.checkServed(ctx, run, utc); err != nil {
		return err
	}
	row := &publicationRow{Run: run, Days: utc, PublishedAt: time.Now().UTC(), Version: versions(1)}
	if err := insert(ctx, s, pubTable, []*publicationRow{row}); err != nil {
		return err
	}
	return s.checkServed(ctx, run, utc)
}

// checkServed returns store.ErrSuperseded when a run that started after run serves one of
// days: the publication log is append-only, and readers let the later-started run win.
func (s *Store) checkServed(ctx context.Context, run string, days []time.Time) error {
	served, err := s.served(ctx)
	if err != nil {
		return err
	}
	want := map[int64]bool{}
	for _, d := range days {
		want[d.UnixMicro()] = true
	}
	for _, p := range served {
		if want[p.Day.UnixMicro()] && p.Run > run {
			return fmt.Errorf("day %s: %w (%s)", p.Day.Format(time.DateOnly), store.ErrSuperseded, p.Run)
		}
	}
	return nil
}

// speedWatermark is the meta row that holds the speed watermark.
const speedWatermark = "speed_watermark"

// SetSpeedWatermark records how far (in event time) the speed layer has processed, to the
// microsecond.
func (s *Store) SetSpeedWatermark(ctx context.Context, t time.Time) error {
	row := &metaRow{Name: speedWatermark, Value: t.UTC(), Version: versions(1)}
	return insert(ctx, s, metaTable, []*metaRow{row})
}
