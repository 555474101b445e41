package api

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
)

// TestBatchIndex checks that the batch index answers published days without reading the
// store's batch layer again, follows a new publication at once, and leaves a day too big for its
// budget to the store, with the same answers in every case.
func TestBatchIndex(t *testing.T) {
	st := openStore(t)
	dayRows := func(v int64) []views.Row {
		var out []views.Row
		for k := range 3 {
			for h := range 24 {
				out = append(out, row(views.PageViews, fmt.Sprintf("u%d", k), day0.Add(time.Duration(h)*time.Hour), pv(v*int64(k+1), 1)))
			}
		}
		return out
	}
	writeBatch(t, st, "run-a", dayRows(1)...)
	publish(t, st, "run-a", day0)
	upsertSpeed(t, st, row(views.PageViews, "u0", day0.AddDate(0, 0, 1), pv(100, 1)))

	rowsQuery := "/v1/views/page_views?key=u1&granularity=1h&from=" + rfc(day0.Add(12*time.Hour)) + "&to=" + rfc(day0.Add(26*time.Hour))
	topQuery := "/v1/views/page_views/top?metric=views&n=2&from=" + rfc(day0.Add(12*time.Hour)) + "&to=" + rfc(day0.Add(26*time.Hour))
	type answer struct {
		Totals map[string]int64
		Top    []keyValue
	}
	ask := func(srv *Server) answer {
		var r rowsResponse
		var tp topResponse
		decode(t, serveGET(srv, rowsQuery), &r)
		srv.index.wait() // for the counts below: a query that misses does not wait for the load
		decode(t, serveGET(srv, topQuery), &tp)
		srv.index.wait()
		return answer{r.Totals, tp.Top}
	}
	index := newTestServer(t, st, &Options{StateRefresh: -1, CacheEntries: -1})
	small := newTestServer(t, st, &Options{StateRefresh: -1, CacheEntries: -1, BatchIndexRows: 10})
	none := newTestServer(t, st, &Options{StateRefresh: -1, CacheEntries: -1, BatchIndexRows: -1})

	wantA := answer{map[string]int64{"views": 24}, []keyValue{{"u0", 112}, {"u2", 36}}}
	for range 3 {
		for name, srv := range map[string]*Server{"index": index, "small": small, "none": none} {
			if diff := cmp.Diff(wantA, ask(srv)); diff != "" {
				t.Fatalf("%s, run-a published (-want +got):\n%s", name, diff)
			}
		}
	}
	for _, c := range []struct {
		srv      *Server
		name, op string
		want     float64
		why      string
	}{
		{index, "index", "query_batch", 1, "the first, which started the day's load"},
		{index, "index", "index_load", 1, "one day"},
		{small, "small index", "query_batch", 6, "every query: the day does not fit"},
		{small, "small index", "index_load", 1, "one day, found too big"},
	} {
		if got := counter(t, c.srv, "beamline_serving_store_calls_total", "op", c.op); got != c.want {
			t.Errorf("%s: %v store calls %s for 6 queries, want %v (%s)", c.name, got, c.op, c.want, c.why)
		}
	}
	if got := counter(t, small, "beamline_serving_batch_index_lookups_total", "result", "too_big"); got != 5 {
		t.Errorf("small index: %v too_big lookups, want 5", got)
	}

	writeBatch(t, st, "run-b", dayRows(10)...)
	publish(t, st, "run-b", day0)
	wantB := answer{map[string]int64{"views": 240}, []keyValue{{"u2", 360}, {"u1", 240}}}
	for name, srv := range map[string]*Server{"index": index, "small": small, "none": none} {
		if diff := cmp.Diff(wantB, ask(srv)); diff != "" {
			t.Fatalf("%s, run-b published (-want +got):\n%s", name, diff)
		}
	}
	// The small index noted the day as too big under run-a, then under run-b: only run-b's
	// note is kept (run-a no longer serves the day).
	small.index.mu.Lock()
	notes := maps.Clone(small.index.tooBig)
	small.index.mu.Unlock()
	if want := map[indexKey]bool{{view: views.PageViews, run: "run-b", day: day0}: true}; !cmp.Equal(want, notes, cmp.AllowUnexported(indexKey{})) {
		t.Errorf("too-big notes after run-b replaced run-a: %v, want only run-b's", notes)
	}
}

// counter returns the value of the counter name whose label is value, summed over its other
// labels.
func counter(t *testing.T, srv *Server, name, label, value string) float64 {
	t.Helper()
	fams, err := srv.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestBatchIndexLoadsFewDaysAtOnce checks that a query over many days starts at most
// maxIndexLoads loads (each holds a day's rows while it runs), and that later queries load the
// rest until every day is indexed.
func TestBatchIndexLoadsFewDaysAtOnce(t *testing.T) {
	st := openStore(t)
	const days = 6
	var rows []views.Row
	var pubDays []time.Time
	for d := range days {
		rows = append(rows, row(views.PageViews, "u", day0.AddDate(0, 0, d).Add(time.Hour), pv(int64(d+1), 1)))
		pubDays = append(pubDays, day0.AddDate(0, 0, d))
	}
	writeBatch(t, st, "run-a", rows...)
	publish(t, st, "run-a", pubDays...)
	srv := newTestServer(t, st, &Options{StateRefresh: -1, CacheEntries: -1})
	query := "/v1/views/page_views?key=u&granularity=1d&from=" + rfc(day0) + "&to=" + rfc(day0.AddDate(0, 0, days))
	for i := 1; ; i++ {
		var r rowsResponse
		decode(t, serveGET(srv, query), &r)
		if r.Totals["views"] != 21 {
			t.Fatalf("query %d: total %d, want 21", i, r.Totals["views"])
		}
		loads := counter(t, srv, "beamline_serving_batch_index_lookups_total", "result", "load")
		if loads > float64(maxIndexLoads*i) {
			t.Fatalf("after %d queries, %v loads started; want at most %d a query", i, loads, maxIndexLoads)
		}
		srv.index.wait()
		srv.index.mu.Lock()
		held := len(srv.index.entries)
		srv.index.mu.Unlock()
		if held == days {
			break
		}
		if i > days {
			t.Fatalf("after %d queries the index does not hold every day", i)
		}
	}
}
