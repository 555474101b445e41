package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Three consecutive UTC days, and the one after them.
var (
	day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
	day3 = day1.AddDate(0, 0, 2)
	day4 = day1.AddDate(0, 0, 3)
)

// at returns the instant h:m into day.
func at(day time.Time, h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// pageViews returns a page_views row of url for the minute starting at start.
func pageViews(url string, start time.Time, pageviews, visitors int64) views.Row {
	return newRow(views.PageViews, url, start, map[string]int64{
		views.MetricViews: pageviews, views.MetricVisitors: visitors})
}

// countryActivity returns a country_activity row; events is split into pageviews, clicks and
// posts, and flagged is a tenth of them.
func countryActivity(country string, start time.Time, pageviews, clicks, posts int64) views.Row {
	events := pageviews + clicks + posts
	return newRow(views.CountryActivity, country, start, map[string]int64{
		views.MetricEvents: events, views.MetricPageviews: pageviews, views.MetricClicks: clicks,
		views.MetricPosts: posts, views.MetricFlagged: events / 10})
}

// categoryActivity returns a category_activity row.
func categoryActivity(category string, start time.Time, events, flagged int64) views.Row {
	return newRow(views.CategoryActivity, category, start, map[string]int64{
		views.MetricEvents: events, views.MetricFlagged: flagged})
}

// sessions returns a sessions row for the hour starting at start.
func sessions(country string, start time.Time, n, events, durationS int64) views.Row {
	return newRow(views.Sessions, country, start, map[string]int64{
		views.MetricSessions: n, views.MetricEvents: events, views.MetricDuration: durationS})
}

func newRow(view, key string, start time.Time, metrics map[string]int64) views.Row {
	spec, ok := views.Lookup(view)
	if !ok {
		panic("storetest: unknown view " + view)
	}
	return views.Row{View: view, Key: key, WindowStart: start, WindowEnd: start.Add(spec.Window), Metrics: metrics}
}

// inLayer returns copies of rows with Layer set, sorted as Query returns them.
func inLayer(layer views.Layer, rows ...views.Row) []views.Row {
	out := make([]views.Row, len(rows))
	for i, r := range rows {
		r.Layer = layer
		out[i] = r
	}
	slices.SortStableFunc(out, func(a, b views.Row) int {
		if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// batchQuery and speedQuery select every key of view with a window start in [from, to).
func batchQuery(view string, from, to time.Time) store.Query {
	return store.Query{View: view, Layer: views.Batch, From: from, To: to}
}

func speedQuery(view string, from, to time.Time) store.Query {
	return store.Query{View: view, Layer: views.Speed, From: from, To: to}
}

// rowOpts compare rows exactly: times must be equal instants in the same location (UTC), and a
// nil result equals an empty one.
var rowOpts = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }),
	cmpopts.EquateEmpty(),
}

func writeBatch(t *testing.T, st *store.Store, run string, rows ...views.Row) {
	t.Helper()
	if err := st.WriteBatch(t.Context(), run, rows); err != nil {
		t.Fatalf("WriteBatch(%s, %d rows): %v", run, len(rows), err)
	}
}

func publish(t *testing.T, st *store.Store, run string, days ...time.Time) {
	t.Helper()
	if err := st.Publish(t.Context(), run, days); err != nil {
		t.Fatalf("Publish(%s, %v): %v", run, days, err)
	}
}

func upsertSpeed(t *testing.T, st *store.Store, rows ...views.Row) {
	t.Helper()
	if err := st.UpsertSpeed(t.Context(), rows); err != nil {
		t.Fatalf("UpsertSpeed(%d rows): %v", len(rows), err)
	}
}

// checkQuery fails t unless q returns exactly want, in order.
func checkQuery(t *testing.T, st *store.Store, q store.Query, want []views.Row) {
	t.Helper()
	got, err := st.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("Query(%+v): %v", q, err)
	}
	if diff := cmp.Diff(want, got, rowOpts); diff != "" {
		t.Errorf("Query(%s %s key=%q [%s, %s)) mismatch (-want +got):\n%s",
			q.Layer, q.View, q.Key, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339), diff)
	}
}

// checkPublications fails t unless the store's publications are want, ignoring PublishedAt.
func checkPublications(t *testing.T, st *store.Store, want []store.Publication) {
	t.Helper()
	got, err := st.Publications(t.Context())
	if err != nil {
		t.Fatalf("Publications: %v", err)
	}
	opts := cmp.Options{rowOpts, cmpopts.IgnoreFields(store.Publication{}, "PublishedAt")}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Publications mismatch (-want +got):\n%s", diff)
	}
}

// withTimeout runs f and fails t if it has not returned within d: a call that hangs is a failure,
// not a stuck test binary.
func withTimeout(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// PageViewRows returns n page_views rows of the minute starting at start, keys prefixed by
// prefix, each with pageviews views and one visitor: bulk rows for drivers' own tests.
func PageViewRows(prefix string, start time.Time, n int, pageviews int64) []views.Row {
	rows := make([]views.Row, n)
	for i := range rows {
		rows[i] = views.Row{View: views.PageViews, Key: fmt.Sprintf("%s/%06d", prefix, i),
			WindowStart: start, WindowEnd: start.Add(time.Minute),
			Metrics: map[string]int64{views.MetricViews: pageviews, views.MetricVisitors: 1}}
	}
	return rows
}

// BenchmarkWriteBatch measures st's WriteBatch calls of n rows (PageViewRows), each into a fresh
// run, and reports rows/s. A driver's benchmark calls it with a fresh store.
func BenchmarkWriteBatch(b *testing.B, st *store.Store, n int) {
	defer st.Close()
	rows := PageViewRows("/p", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), n, 1)
	run := 0
	for b.Loop() {
		run++
		if err := st.WriteBatch(b.Context(), fmt.Sprintf("run-%d", run), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Open opens the store at rawURL with store.Open, failing t on an error; the caller closes it.
func Open(t testing.TB, rawURL string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	return st
}

// OpenClosed is Open, and closes the store when t ends.
func OpenClosed(t testing.TB, rawURL string) *store.Store {
	t.Helper()
	st := Open(t, rawURL)
	t.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkWriteDay measures what a backfill's write costs: total page_views rows of one day
// (keys and minutes shuffled, as they leave a shuffle) written into one run in WriteBatch
// calls of per rows. It reports rows/s.
func BenchmarkWriteDay(b *testing.B, st *store.Store, total, per int) {
	defer st.Close()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	rows := make([]views.Row, 0, total)
	for i := range total {
		start := day.Add(time.Duration(i%1440) * time.Minute)
		rows = append(rows, views.Row{View: views.PageViews, Key: fmt.Sprintf("/p/%06d", i/1440),
			WindowStart: start, WindowEnd: start.Add(time.Minute),
			Metrics: map[string]int64{views.MetricViews: int64(i), views.MetricVisitors: 1}})
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	run := 0
	for b.Loop() {
		run++
		for i := 0; i < len(rows); i += per {
			if err := st.WriteBatch(b.Context(), fmt.Sprintf("run-%d", run), rows[i:min(i+per, len(rows))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
