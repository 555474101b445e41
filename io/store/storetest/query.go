package storetest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// testQueryFilters: Query selects by view, layer, key and [From, To) on the window start, orders
// by window start then key, and never mixes the layers.
func testQueryFilters(t *testing.T, st *store.Store) {
	var (
		bA1000 = pageViews("/a", at(day1, 10, 0), 8, 6)
		bB1000 = pageViews("/b", at(day1, 10, 0), 4, 4)
		bA1001 = pageViews("/a", at(day1, 10, 1), 9, 7)
		bA2    = pageViews("/a", at(day2, 10, 0), 2, 2)
		bDE    = countryActivity("DE", at(day1, 10, 0), 8, 3, 1)
		bUS    = countryActivity("US", at(day1, 10, 0), 4, 1, 0)
		bCat   = categoryActivity("news", at(day1, 10, 0), 12, 1)
		bSess  = sessions("DE", at(day1, 10, 0), 3, 12, 840)
		sA1000 = pageViews("/a", at(day1, 10, 0), 7, 5) // same key and window as bA1000
		sA2    = pageViews("/a", at(day2, 10, 0), 1, 1)
		sFR    = countryActivity("FR", at(day2, 10, 0), 2, 2, 0)
	)
	batch := []views.Row{bA1000, bB1000, bA1001, bA2, bDE, bUS, bCat, bSess}
	slices.Reverse(batch) // written out of order: Query sorts
	writeBatch(t, st, "run-a", batch...)
	publish(t, st, "run-a", day1, day2)
	upsertSpeed(t, st, sFR, sA2, sA1000)

	keyed := func(q store.Query, key string) store.Query { q.Key = key; return q }
	tests := []struct {
		name string
		q    store.Query
		want []views.Row
	}{
		{"batch all keys", batchQuery(views.PageViews, day1, day3), inLayer(views.Batch, bA1000, bB1000, bA1001, bA2)},
		{"batch one key", keyed(batchQuery(views.PageViews, day1, day3), "/a"), inLayer(views.Batch, bA1000, bA1001, bA2)},
		{"batch unknown key", keyed(batchQuery(views.PageViews, day1, day3), "/nope"), nil},
		{"batch from inclusive to exclusive", batchQuery(views.PageViews, at(day1, 10, 1), at(day2, 10, 0)), inLayer(views.Batch, bA1001)},
		{"batch to exclusive at first window", batchQuery(views.PageViews, day1, at(day1, 10, 0)), nil},
		{"batch other view", batchQuery(views.CountryActivity, day1, day3), inLayer(views.Batch, bDE, bUS)},
		{"batch category", batchQuery(views.CategoryActivity, day1, day3), inLayer(views.Batch, bCat)},
		{"batch hourly view", batchQuery(views.Sessions, day1, day3), inLayer(views.Batch, bSess)},
		{"batch unpublished day", batchQuery(views.PageViews, day3, day4), nil},
		{"speed all keys", speedQuery(views.PageViews, day1, day3), inLayer(views.Speed, sA1000, sA2)},
		{"speed one key", keyed(speedQuery(views.CountryActivity, day1, day3), "FR"), inLayer(views.Speed, sFR)},
		{"speed key of batch only", keyed(speedQuery(views.CountryActivity, day1, day3), "DE"), nil},
		{"speed view with batch rows only", speedQuery(views.Sessions, day1, day3), nil},
		{"empty range", batchQuery(views.PageViews, at(day1, 10, 0), at(day1, 10, 0)), nil},
		{"inverted range", speedQuery(views.PageViews, day3, day1), nil},
		{"unknown view", batchQuery("no_such_view", day1, day3), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkQuery(t, st, tc.q, tc.want) })
	}
}

// testRowsRoundTripExactly: metrics come back exactly (large values included), windows come back
// as the same instants in UTC whatever location they were written in, and Layer is set.
func testRowsRoundTripExactly(t *testing.T, st *store.Store) {
	berlin := time.FixedZone("CET", 3600)
	start := at(day1, 13, 7).In(berlin)
	big := countryActivity("BR", start, 1<<53+1, math.MaxInt64/4, 0)
	big.Metrics[views.MetricFlagged] = math.MaxInt64
	zero := sessions("ZZ", at(day1, 13, 0).In(berlin), 0, 0, 0)
	writeBatch(t, st, "run-a", big, zero)
	publish(t, st, "run-a", day1)
	upsertSpeed(t, st, big, zero)

	utc := func(r views.Row) views.Row {
		r.WindowStart, r.WindowEnd = r.WindowStart.UTC(), r.WindowEnd.UTC()
		return r
	}
	checkQuery(t, st, batchQuery(views.CountryActivity, day1, day2), inLayer(views.Batch, utc(big)))
	checkQuery(t, st, batchQuery(views.Sessions, day1, day2), inLayer(views.Batch, utc(zero)))
	checkQuery(t, st, speedQuery(views.CountryActivity, day1, day2), inLayer(views.Speed, utc(big)))
	checkQuery(t, st, speedQuery(views.Sessions, day1, day2), inLayer(views.Speed, utc(zero)))
}

// testQueryRejectsUnknownLayer: a query must name a layer.
func testQueryRejectsUnknownLayer(t *testing.T, st *store.Store) {
	for _, layer := range []views.Layer{"", "lambda"} {
		q := store.Query{View: views.PageViews, Layer: layer, From: day1, To: day2}
		if got, err := st.Query(t.Context(), q); err == nil {
			t.Errorf("Query(layer %q) = %d rows, nil error; want an error", layer, len(got))
		}
	}
}

// testPublications: publications are listed by day with the run serving each, and a recent
// PublishedAt.
func testPublications(t *testing.T, st *store.Store) {
	checkPublications(t, st, nil)
	before := time.Now()
	publish(t, st, "run-a", day3, day1)
	publish(t, st, "run-b", day2)
	after := time.Now()
	checkPublications(t, st, []store.Publication{{Day: day1, Run: "run-a"}, {Day: day2, Run: "run-b"}, {Day: day3, Run: "run-a"}})

	got, err := st.Publications(t.Context())
	if err != nil {
		t.Fatalf("Publications: %v", err)
	}
	for _, p := range got {
		if p.PublishedAt.Before(before.Add(-time.Second)) || p.PublishedAt.After(after.Add(time.Second)) {
			t.Errorf("day %s: PublishedAt %s, want within [%s, %s]", p.Day, p.PublishedAt, before, after)
		}
	}
}

// testSpeedWatermark: the watermark is the zero time until set, then the last value set (UTC).
func testSpeedWatermark(t *testing.T, st *store.Store) {
	ctx := t.Context()
	if got, err := st.SpeedWatermark(ctx); err != nil || !got.IsZero() {
		t.Fatalf("SpeedWatermark before any set = %v, %v; want zero time, nil", got, err)
	}
	for _, w := range []time.Time{at(day1, 10, 0), at(day1, 10, 5).Add(1500 * time.Millisecond), at(day2, 0, 0)} {
		if err := st.SetSpeedWatermark(ctx, w); err != nil {
			t.Fatalf("SetSpeedWatermark(%s): %v", w, err)
		}
		got, err := st.SpeedWatermark(ctx)
		if err != nil {
			t.Fatalf("SpeedWatermark: %v", err)
		}
		if !got.Equal(w) || got.Location() != time.UTC {
			t.Errorf("SpeedWatermark after setting %s = %s; want the same instant in UTC", w, got)
		}
	}
}
