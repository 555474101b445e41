package storetest

import (
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// testRetain: Retain deletes the speed rows before its time on published days only, and the rows
// of unpublished runs that started before its time only (by their run IDs), reports how many,
// and changes no batch answer.
func testRetain(t *testing.T, st *store.Store) {
	const (
		served = "run-20261120T000000.000Z-00000a"
		old    = "run-20261101T000000.000Z-00000b" // unpublished, before the grace
		recent = "run-20261206T000000.000Z-00000c" // unpublished, within it
		other  = "hand-made-run"                   // not a NewRunID: never swept
	)
	a := pageViews("/a", at(day1, 10, 0), 5, 2)
	writeBatch(t, st, served, a)
	publish(t, st, served, day1)
	for _, run := range []string{old, recent, other} {
		writeBatch(t, st, run, pageViews("/"+run, at(day3, 10, 0), 1, 1))
	}
	speed1, speed2 := pageViews("/s", at(day1, 11, 0), 3, 1), pageViews("/s", at(day2, 11, 0), 4, 1)
	upsertSpeed(t, st, speed1, speed2)

	sw, err := st.Retain(t.Context(), store.Retention{SpeedBefore: day3, UnpublishedBefore: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	if sw != (store.Swept{SpeedRows: 1, BatchRows: 1}) {
		t.Errorf("Retain swept %+v, want the speed row of the published day and the old run's row", sw)
	}
	checkQuery(t, st, speedQuery(views.PageViews, day1, day4), inLayer(views.Speed, speed2))
	checkQuery(t, st, batchQuery(views.PageViews, day1, day4), inLayer(views.Batch, a))
	for _, c := range []struct { // in the order of their IDs: an older run cannot replace a newer
		run  string
		want []views.Row
	}{{old, nil}, {recent, []views.Row{pageViews("/"+recent, at(day3, 10, 0), 1, 1)}}} {
		publish(t, st, c.run, day3)
		checkQuery(t, st, batchQuery(views.PageViews, day3, day4), inLayer(views.Batch, c.want...))
	}
	if sw, err := st.Retain(t.Context(), store.Retention{}); err != nil || sw != (store.Swept{}) {
		t.Errorf("Retain of nothing = %+v, %v; want nothing swept", sw, err)
	}
}
