package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// testConcurrentPublishIsAtomic: while runs are published one over another for two days, every
// concurrent query sees all the rows of exactly one run: never a mix, never a partial or empty set.
func testConcurrentPublishIsAtomic(t *testing.T, st *store.Store) {
	const runs, rowsPerDay, readers = 16, 150, 3
	for i := range runs {
		writeBatch(t, st, runName(i), runRows(i, rowsPerDay)...)
	}
	publish(t, st, runName(0), day1, day2)

	q := batchQuery(views.PageViews, day1, day3)
	var (
		wg    sync.WaitGroup
		reads atomic.Int64
		stop  = make(chan struct{})
	)
	for range readers {
		wg.Go(func() { readSnapshots(t, st, q, 2*rowsPerDay, stop, &reads) })
	}
	func() {
		defer func() { close(stop); wg.Wait() }()
		for i := 1; i < runs && !t.Failed(); i++ {
			awaitReads(&reads, readers)
			publish(t, st, runName(i), day1, day2)
		}
		awaitReads(&reads, readers)
	}()
	checkQuery(t, st, q, inLayer(views.Batch, runRows(runs-1, rowsPerDay)...))
	t.Logf("%d concurrent queries during %d publications", reads.Load(), runs-1)
}

func runName(i int) string { return fmt.Sprintf("run-%02d", i) }

// runRows returns run i's page_views rows: rowsPerDay keys on each of day1 and day2, every row
// with i+1 views, so that a query tells the runs apart.
func runRows(i, rowsPerDay int) []views.Row {
	var rows []views.Row
	for _, d := range []time.Time{day1, day2} {
		for k := range rowsPerDay {
			rows = append(rows, pageViews(fmt.Sprintf("/p/%03d", k), at(d, 12, 0), int64(i+1), 1))
		}
	}
	return rows
}

// readSnapshots queries until stop is closed, failing t on the first result that is not one
// whole run.
func readSnapshots(t *testing.T, st *store.Store, q store.Query, want int, stop <-chan struct{}, reads *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		got, err := st.Query(t.Context(), q)
		if err != nil {
			t.Errorf("concurrent Query: %v", err)
			return
		}
		if msg := notOneRun(got, want); msg != "" {
			t.Errorf("concurrent Query saw %s", msg)
			return
		}
		reads.Add(1)
	}
}

// notOneRun says why rows are not the want rows of a single run, or returns "".
func notOneRun(rows []views.Row, want int) string {
	if len(rows) != want {
		return fmt.Sprintf("%d rows, want %d", len(rows), want)
	}
	v := rows[0].Metrics[views.MetricViews]
	for _, r := range rows {
		if got := r.Metrics[views.MetricViews]; got != v {
			return fmt.Sprintf("a mix of runs: rows with %d and %d views", v, got)
		}
	}
	return ""
}

// awaitReads waits (up to a second) until n more queries have completed, so that publications
// interleave with reads.
func awaitReads(reads *atomic.Int64, n int) {
	target := reads.Load() + int64(n)
	for deadline := time.Now().Add(time.Second); reads.Load() < target && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// testCancelledContext: every call returns an error, promptly and without effect, when its context
// is cancelled or past its deadline.
func testCancelledContext(t *testing.T, st *store.Store) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancelExpired := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancelExpired()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"cancelled", cancelled}, {"expired", expired}} {
		for _, op := range contextOps(st) {
			t.Run(c.name+"/"+op.name, func(t *testing.T) {
				var err error
				withTimeout(t, 5*time.Second, op.name, func() { err = op.call(c.ctx) })
				if err == nil {
					t.Errorf("%s with a %s context: nil error, want one", op.name, c.name)
				}
			})
		}
	}

	checkPublications(t, st, nil)
	checkQuery(t, st, speedQuery(views.PageViews, day1, day2), nil)
	if w, err := st.SpeedWatermark(t.Context()); err != nil || !w.IsZero() {
		t.Errorf("SpeedWatermark = %v, %v; want zero time, nil", w, err)
	}
	publish(t, st, "run-a", day1)
	checkQuery(t, st, batchQuery(views.PageViews, day1, day2), nil)
}

type contextOp struct {
	name string
	call func(ctx context.Context) error
}

func contextOps(st *store.Store) []contextOp {
	rows := []views.Row{pageViews("/home", at(day1, 9, 0), 3, 2)}
	query := func(q store.Query) func(context.Context) error {
		return func(ctx context.Context) error { _, err := st.Query(ctx, q); return err }
	}
	return []contextOp{
		{"WriteBatch", func(ctx context.Context) error { return st.WriteBatch(ctx, "run-a", rows) }},
		{"Publish", func(ctx context.Context) error { return st.Publish(ctx, "run-a", []time.Time{day1}) }},
		{"UpsertSpeed", func(ctx context.Context) error { return st.UpsertSpeed(ctx, rows) }},
		{"QueryBatch", query(batchQuery(views.PageViews, day1, day2))},
		{"QuerySpeed", query(speedQuery(views.PageViews, day1, day2))},
		{"Publications", func(ctx context.Context) error { _, err := st.Publications(ctx); return err }},
		{"SetSpeedWatermark", func(ctx context.Context) error { return st.SetSpeedWatermark(ctx, day1) }},
		{"SpeedWatermark", func(ctx context.Context) error { _, err := st.SpeedWatermark(ctx); return err }},
	}
}

// testInvalidRowsRejected: a write with a row that fails views.Row.Validate returns an error and
// writes none of its rows.
func testInvalidRowsRejected(t *testing.T, st *store.Store) {
	start := at(day1, 9, 0)
	tests := []struct {
		name string
		bad  func() views.Row
	}{
		{"unknown view", func() views.Row { r := pageViews("/x", start, 1, 1); r.View = "page_hits"; return r }},
		{"window not on a boundary", func() views.Row { return pageViews("/x", start.Add(30*time.Second), 1, 1) }},
		{"window of the wrong length", func() views.Row {
			r := sessions("DE", start, 1, 1, 1)
			r.WindowEnd = start.Add(time.Minute)
			return r
		}},
		{"no window end", func() views.Row { r := pageViews("/x", start, 1, 1); r.WindowEnd = time.Time{}; return r }},
		{"missing metric", func() views.Row {
			r := pageViews("/x", start, 1, 1)
			delete(r.Metrics, views.MetricVisitors)
			return r
		}},
		{"foreign metric", func() views.Row {
			r := categoryActivity("news", start, 1, 1)
			r.Metrics[views.MetricClicks] = 1
			return r
		}},
		{"zero row", func() views.Row { return views.Row{} }},
	}
	valid := pageViews("/home", start, 3, 2)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := []views.Row{valid, tc.bad()}
			if err := st.WriteBatch(t.Context(), "run-a", rows); err == nil {
				t.Errorf("WriteBatch: nil error, want one")
			}
			if err := st.UpsertSpeed(t.Context(), rows); err == nil {
				t.Errorf("UpsertSpeed: nil error, want one")
			}
		})
	}
	publish(t, st, "run-a", day1)
	checkQuery(t, st, batchQuery(views.PageViews, day1, day2), nil)
	checkQuery(t, st, speedQuery(views.PageViews, day1, day2), nil)
}

// testEmptyCallsAreNoOps: writing or publishing nothing succeeds and changes nothing.
func testEmptyCallsAreNoOps(t *testing.T, st *store.Store) {
	ctx := t.Context()
	if err := st.WriteBatch(ctx, "run-a", nil); err != nil {
		t.Errorf("WriteBatch(no rows): %v", err)
	}
	if err := st.UpsertSpeed(ctx, nil); err != nil {
		t.Errorf("UpsertSpeed(no rows): %v", err)
	}
	if err := st.Publish(ctx, "run-a", nil); err != nil {
		t.Errorf("Publish(no days): %v", err)
	}
	checkPublications(t, st, nil)
	checkQuery(t, st, speedQuery(views.PageViews, day1, day2), nil)
}
