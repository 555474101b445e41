package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
)

// CheckPublishCollectsGarbage checks, on a fresh store st, that Publish deletes the rows of a
// replaced run for the days it lost, while its other days and unpublished runs keep theirs, for
// drivers that delete at publication (SQL stores). countByRun counts the store's batch rows of
// each run, reading its tables directly.
func CheckPublishCollectsGarbage(t *testing.T, st *store.Store, countByRun func() map[string]int) {
	t.Helper()
	ctx := t.Context()
	day2 := day1.AddDate(0, 0, 1)
	err := errors.Join(
		st.WriteBatch(ctx, "run-a", append(PageViewRows("/p", day1, 10, 1), PageViewRows("/p", day2, 10, 1)...)),
		st.WriteBatch(ctx, "run-b", PageViewRows("/p", day1, 10, 2)),
		st.WriteBatch(ctx, "run-unpublished", PageViewRows("/p", day1, 10, 3)),
		st.Publish(ctx, "run-a", []time.Time{day1, day2}),
		st.Publish(ctx, "run-b", []time.Time{day1}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"run-a": 10, "run-b": 10, "run-unpublished": 10}
	if diff := cmp.Diff(want, countByRun()); diff != "" {
		t.Errorf("batch rows by run after republishing (-want +got):\n%s", diff)
	}
}
