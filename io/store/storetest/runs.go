package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
)

// testRuns: the run history keeps each run's latest record, newest first, and a published run
// that serves no day any more reads as replaced.
func testRuns(t *testing.T, st *store.Store) {
	ctx := t.Context()
	if runs, err := st.Runs(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("Runs of a new store = %v, %v; want none", runs, err)
	}
	const a, b, c = "run-20261122T030000.000Z-00000a", "run-20261122T031500.000Z-00000b", "run-20261123T030000.000Z-00000c"
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	record := func(r store.RunInfo) {
		t.Helper()
		if err := st.RecordRun(ctx, r); err != nil {
			t.Fatalf("RecordRun(%s): %v", r.Run, err)
		}
	}
	check := func(want ...store.RunInfo) {
		t.Helper()
		got, err := st.Runs(ctx)
		if err != nil {
			t.Fatalf("Runs: %v", err)
		}
		if d := cmp.Diff(want, got, rowOpts); d != "" {
			t.Errorf("Runs (-want +got):\n%s", d)
		}
	}
	runA := store.RunInfo{Run: a, Days: []time.Time{day1, day2}, Status: store.RunRunning, Started: t0}
	record(runA)
	check(runA)
	runA.Status, runA.Ended, runA.Report = store.RunPublished, t0.Add(90*time.Second), `{"read":3}`
	record(runA)
	publish(t, st, a, day1, day2)
	runB := store.RunInfo{Run: b, Days: []time.Time{day2}, Status: store.RunRejected, Started: t0.Add(15 * time.Minute),
		Ended: t0.Add(16 * time.Minute), Report: `{"failed":["dead-letter rate"]}`}
	record(runB)
	check(runB, runA)
	runC := store.RunInfo{Run: c, Days: []time.Time{day1, day2}, Status: store.RunPublished, Started: t0.Add(24 * time.Hour),
		Ended: t0.Add(24*time.Hour + time.Minute), Report: `{}`}
	record(runC)
	publish(t, st, c, day1, day2)
	runA.Status = store.RunReplaced
	check(runC, runB, runA)
}
