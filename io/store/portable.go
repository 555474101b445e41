package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/views"
)

// ErrReadOnly is returned for a write to a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("the store is open read-only")

// errEmptyRun is returned for a batch write, publication or run record without a run ID.
var errEmptyRun = errors.New("empty run ID")

// Store is a view store: the portable type that the jobs and the serving API use, over the
// Driver that its URL selected. It checks every argument once, for every driver (see Driver),
// and its errors read "NAME store: OPERATION: cause". It is safe for concurrent use.
type Store struct {
	name     string
	d        Driver
	readOnly bool
}

// New returns the portable store over d, a driver named name (in errors) opened with opts.
// Open calls it; a driver's own open function may too.
func New(name string, d Driver, opts Options) *Store {
	return &Store{name: name, d: d, readOnly: opts.ReadOnly}
}

// Driver returns the store's driver.
func (s *Store) Driver() Driver { return s.d }

// wrap returns err as "NAME store: op: err", or nil if err is nil.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s store: %s: %w", s.name, op, err)
}

// check returns the error of a call that must not reach the driver: a done context, or a write
// to a read-only store.
func (s *Store) check(ctx context.Context, write bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if write && s.readOnly {
		return ErrReadOnly
	}
	return nil
}

// checkRows returns the first row that fails views.Row.Validate, as an error.
func checkRows(rows []views.Row) error {
	for i, r := range rows {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rows[%d]: %w", i, err)
		}
	}
	return nil
}

// WriteBatch writes rows of the unpublished batch run run. Writing the same (run, view, key,
// window start) again, also later in the same call, replaces the row. Rows must pass
// views.Row.Validate; their Layer field is ignored.
func (s *Store) WriteBatch(ctx context.Context, run string, rows []views.Row) error {
	err := s.check(ctx, true)
	switch {
	case err != nil:
	case run == "":
		err = errEmptyRun
	default:
		if err = checkRows(rows); err == nil && len(rows) > 0 {
			err = s.d.WriteBatch(ctx, run, rows)
		}
	}
	return s.wrap("write batch", err)
}

// Publish makes run the batch run that serves each of days (midnight UTC), atomically; see
// Driver.Publish. Publishing no day does nothing.
func (s *Store) Publish(ctx context.Context, run string, days []time.Time) error {
	err := s.check(ctx, true)
	if err == nil && run == "" {
		err = errEmptyRun
	}
	for _, d := range days {
		if err == nil && !d.Equal(views.Day(d)) {
			err = fmt.Errorf("day %s is not a midnight UTC", d.Format(time.RFC3339Nano))
		}
	}
	if err == nil && len(days) > 0 {
		err = s.d.Publish(ctx, run, days)
	}
	return s.wrap("publish", err)
}

// UpsertSpeed writes speed-layer rows; a row replaces one with the same view, key and window
// start unless that one is heavier (see Driver.UpsertSpeed). Rows must pass views.Row.Validate;
// their Layer field is ignored.
func (s *Store) UpsertSpeed(ctx context.Context, rows []views.Row) error {
	err := s.check(ctx, true)
	if err == nil {
		if err = checkRows(rows); err == nil && len(rows) > 0 {
			err = s.d.UpsertSpeed(ctx, rows)
		}
	}
	return s.wrap("upsert speed", err)
}

// Query returns the rows of one layer that match q, ordered by window start, then key. Batch
// rows come only from the run published for the day of their window start.
func (s *Store) Query(ctx context.Context, q Query) ([]views.Row, error) {
	if err := s.check(ctx, false); err != nil {
		return nil, s.wrap("query", err)
	}
	if q.Layer != views.Batch && q.Layer != views.Speed {
		return nil, s.wrap("query", fmt.Errorf("unknown layer %q", q.Layer))
	}
	rows, err := s.d.Query(ctx, q)
	return rows, s.wrap("query", err)
}

// Publications returns the published days and their runs, ordered by day.
func (s *Store) Publications(ctx context.Context) ([]Publication, error) {
	if err := s.check(ctx, false); err != nil {
		return nil, s.wrap("publications", err)
	}
	pubs, err := s.d.Publications(ctx)
	return pubs, s.wrap("publications", err)
}

// SetSpeedWatermark records how far (in event time) the speed layer has processed.
func (s *Store) SetSpeedWatermark(ctx context.Context, t time.Time) error {
	err := s.check(ctx, true)
	if err == nil {
		err = s.d.SetSpeedWatermark(ctx, t)
	}
	return s.wrap("set speed watermark", err)
}

// SpeedWatermark returns the last recorded speed watermark, or the zero time if none.
func (s *Store) SpeedWatermark(ctx context.Context) (time.Time, error) {
	if err := s.check(ctx, false); err != nil {
		return time.Time{}, s.wrap("speed watermark", err)
	}
	t, err := s.d.SpeedWatermark(ctx)
	return t, s.wrap("speed watermark", err)
}

// RecordRun writes the history of a batch run, replacing what was recorded for its ID.
func (s *Store) RecordRun(ctx context.Context, r RunInfo) error {
	err := s.check(ctx, true)
	if err == nil && r.Run == "" {
		err = errEmptyRun
	}
	if err == nil {
		err = s.d.RecordRun(ctx, r)
	}
	return s.wrap("record run", err)
}

// Runs returns the recorded batch runs, the newest first (by run ID); a published run that
// serves none of its days any more is reported as RunReplaced.
func (s *Store) Runs(ctx context.Context) ([]RunInfo, error) {
	if err := s.check(ctx, false); err != nil {
		return nil, s.wrap("runs", err)
	}
	runs, err := s.d.Runs(ctx)
	if err != nil {
		return nil, s.wrap("runs", err)
	}
	pubs, err := s.d.Publications(ctx)
	if err != nil {
		return nil, s.wrap("runs", err)
	}
	return markReplaced(runs, pubs), nil
}

// Retain deletes what no query needs any more (see Retention and Driver.Retain).
func (s *Store) Retain(ctx context.Context, r Retention) (Swept, error) {
	if err := s.check(ctx, true); err != nil {
		return Swept{}, s.wrap("retain", err)
	}
	sw, err := s.d.Retain(ctx, r)
	return sw, s.wrap("retain", err)
}

// Close releases the store's resources.
func (s *Store) Close() error { return s.wrap("close", s.d.Close()) }
