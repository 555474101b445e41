package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// testBatchInvisibleUntilPublished: rows of a run are served only once published, and only for
// the days published; a row belongs to the UTC day of its window start.
func testBatchInvisibleUntilPublished(t *testing.T, st *store.Store) {
	var (
		firstMinute = pageViews("/home", at(day1, 0, 0), 12, 9)
		lastMinute  = pageViews("/home", at(day1, 23, 59), 7, 5)
		nextDay     = pageViews("/home", at(day2, 0, 0), 3, 3)
		thirdDay    = pageViews("/home", at(day3, 12, 0), 40, 31)
		lateSession = sessions("DE", at(day1, 23, 0), 4, 17, 950) // ends at day2 midnight
		nextSession = sessions("DE", at(day2, 0, 0), 2, 5, 300)
	)
	writeBatch(t, st, "run-a", firstMinute, lastMinute, nextDay, thirdDay, lateSession, nextSession)

	checkQuery(t, st, batchQuery(views.PageViews, day1, day4), nil)
	checkQuery(t, st, batchQuery(views.Sessions, day1, day4), nil)
	checkPublications(t, st, nil)

	publish(t, st, "run-a", day1, day3)
	checkQuery(t, st, batchQuery(views.PageViews, day1, day4), inLayer(views.Batch, firstMinute, lastMinute, thirdDay))
	checkQuery(t, st, batchQuery(views.Sessions, day1, day4), inLayer(views.Batch, lateSession))
	checkQuery(t, st, speedQuery(views.PageViews, day1, day4), nil)
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-a"}, {Day: day3, Run: "run-a"}})
}

// testRepublishReplacesRun: publishing a new run for some days replaces the old run's rows for
// exactly those days (no rows of both, no double counts); other days stay with the old run.
func testRepublishReplacesRun(t *testing.T, st *store.Store) {
	var runA, runB, runC []views.Row
	for _, d := range []day{{day1, 1}, {day2, 2}, {day3, 3}} {
		runA = append(runA, pageViews("/a", at(d.t, 10, 0), 10*d.n, 5), pageViews("/b", at(d.t, 10, 0), 20*d.n, 6))
	}
	for _, d := range []day{{day1, 1}, {day2, 2}} { // run B has no /b: it must vanish, not linger
		runB = append(runB, pageViews("/a", at(d.t, 10, 0), 11*d.n, 5), pageViews("/c", at(d.t, 10, 0), 30*d.n, 7))
	}
	runC = append(runC, pageViews("/a", at(day2, 10, 0), 99, 50))
	writeBatch(t, st, "run-a", runA...)
	writeBatch(t, st, "run-b", runB...)
	writeBatch(t, st, "run-c", runC...)
	all := batchQuery(views.PageViews, day1, day4)

	publish(t, st, "run-a", day1, day2, day3)
	checkQuery(t, st, all, inLayer(views.Batch, runA...))

	publish(t, st, "run-b", day1, day2)
	want := inLayer(views.Batch, append(append([]views.Row{}, runB...), runA[4:]...)...)
	checkQuery(t, st, all, want)
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-b"}, {Day: day2, Run: "run-b"}, {Day: day3, Run: "run-a"}})

	publish(t, st, "run-b", day1, day2) // publishing again changes nothing
	checkQuery(t, st, all, want)

	publish(t, st, "run-c", day2)
	checkQuery(t, st, all, inLayer(views.Batch, runB[0], runB[1], runC[0], runA[4], runA[5]))
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-b"}, {Day: day2, Run: "run-c"}, {Day: day3, Run: "run-a"}})
}

// day is a day and a multiplier that makes its rows' metrics differ from other days'.
type day struct {
	t time.Time
	n int64
}

// testHalfWrittenRunNeverServed: rows of a run that was never published are never served, even
// when other runs are published for the same days before and after it was written.
func testHalfWrittenRunNeverServed(t *testing.T, st *store.Store) {
	a := []views.Row{pageViews("/a", at(day1, 8, 0), 1, 1), pageViews("/a", at(day2, 8, 0), 1, 1)}
	writeBatch(t, st, "run-a", a...)
	publish(t, st, "run-a", day1, day2)

	half := []views.Row{pageViews("/a", at(day1, 8, 0), 2, 2), pageViews("/a", at(day2, 8, 0), 2, 2),
		pageViews("/only-in-half", at(day1, 8, 0), 2, 2)}
	writeBatch(t, st, "run-half", half...)

	c := pageViews("/a", at(day2, 8, 0), 3, 3)
	writeBatch(t, st, "run-c", c)
	publish(t, st, "run-c", day2)
	all := batchQuery(views.PageViews, day1, day4)
	checkQuery(t, st, all, inLayer(views.Batch, a[0], c))

	d := pageViews("/a", at(day1, 8, 0), 4, 4)
	writeBatch(t, st, "run-d", d)
	publish(t, st, "run-d", day1)
	checkQuery(t, st, all, inLayer(views.Batch, d, c))
	checkQuery(t, st, store.Query{View: views.PageViews, Layer: views.Batch, Key: "/only-in-half", From: day1, To: day4}, nil)
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-d"}, {Day: day2, Run: "run-c"}})
}

// testWriteBatchIsIdempotent: writing the same (run, view, key, window start) again, in another
// call or later in the same call, replaces the row.
func testWriteBatchIsIdempotent(t *testing.T, st *store.Store) {
	home := pageViews("/home", at(day1, 9, 0), 5, 4)
	de := countryActivity("DE", at(day1, 9, 0), 5, 2, 1)
	writeBatch(t, st, "run-a", home, de)
	writeBatch(t, st, "run-a", home, de) // a retried bundle

	homeFixed := pageViews("/home", at(day1, 9, 0), 6, 4)
	deFirst, deLast := countryActivity("DE", at(day1, 9, 0), 50, 0, 0), countryActivity("DE", at(day1, 9, 0), 7, 2, 1)
	writeBatch(t, st, "run-a", homeFixed, deFirst, deLast)
	publish(t, st, "run-a", day1)

	checkQuery(t, st, batchQuery(views.PageViews, day1, day2), inLayer(views.Batch, homeFixed))
	checkQuery(t, st, batchQuery(views.CountryActivity, day1, day2), inLayer(views.Batch, deLast))
}

// testUpsertSpeedLastWriteWins: a speed row replaces the row with the same view, key and window
// start, so a re-fired pane never counts twice.
func testUpsertSpeedLastWriteWins(t *testing.T, st *store.Store) {
	early := categoryActivity("sports", at(day1, 9, 0), 10, 1)
	onTime := categoryActivity("sports", at(day1, 9, 0), 14, 2)
	late := categoryActivity("sports", at(day1, 9, 0), 15, 2)
	news := categoryActivity("news", at(day1, 9, 0), 3, 0)
	upsertSpeed(t, st, early, news)
	upsertSpeed(t, st, onTime)
	checkQuery(t, st, speedQuery(views.CategoryActivity, day1, day2), inLayer(views.Speed, news, onTime))

	upsertSpeed(t, st, onTime, late) // both panes in one call: the later one wins
	checkQuery(t, st, speedQuery(views.CategoryActivity, day1, day2), inLayer(views.Speed, news, late))
}

// testUpsertSpeedNeverGoesDown: a version lighter than the stored one (a restarted job that
// rebuilds a window, or a repeated early pane) never replaces it, alone or in one call after a
// heavier one; an equal one does, and so does a heavier one.
func testUpsertSpeedNeverGoesDown(t *testing.T, st *store.Store) {
	full := categoryActivity("sports", at(day1, 9, 0), 15, 2)
	rebuilt := categoryActivity("sports", at(day1, 9, 0), 4, 0)
	again := categoryActivity("sports", at(day1, 9, 0), 16, 1) // same weight as full
	more := categoryActivity("sports", at(day1, 9, 0), 20, 2)
	q := speedQuery(views.CategoryActivity, day1, day2)
	upsertSpeed(t, st, full)
	upsertSpeed(t, st, rebuilt)
	checkQuery(t, st, q, inLayer(views.Speed, full))
	upsertSpeed(t, st, again)
	checkQuery(t, st, q, inLayer(views.Speed, again))
	upsertSpeed(t, st, more, rebuilt)
	checkQuery(t, st, q, inLayer(views.Speed, more))
	upsertSpeed(t, st, full)
	checkQuery(t, st, q, inLayer(views.Speed, more))
}

// testOlderRunNeverReplacesNewer: a run that started earlier (its ID sorts first) cannot take
// a day from a later one: Publish fails with store.ErrSuperseded and changes nothing, not even
// the days it could have had; the later run's rows keep serving.
func testOlderRunNeverReplacesNewer(t *testing.T, st *store.Store) {
	older := []views.Row{pageViews("/a", at(day1, 10, 0), 1, 1), pageViews("/a", at(day2, 10, 0), 2, 1)}
	newer := []views.Row{pageViews("/a", at(day1, 10, 0), 7, 3)}
	writeBatch(t, st, "run-20261121T000000.000Z-aaaaaa", older...)
	writeBatch(t, st, "run-20261121T000001.000Z-000000", newer...)
	publish(t, st, "run-20261121T000001.000Z-000000", day1)
	err := st.Publish(t.Context(), "run-20261121T000000.000Z-aaaaaa", []time.Time{day1, day2})
	if !errors.Is(err, store.ErrSuperseded) {
		t.Fatalf("Publish of an older run over a newer one = %v, want store.ErrSuperseded", err)
	}
	checkQuery(t, st, batchQuery(views.PageViews, day1, day4), inLayer(views.Batch, newer...))
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-20261121T000001.000Z-000000"}})
}
