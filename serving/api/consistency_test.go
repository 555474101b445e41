package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// viewsTotal queries the total views of key u over [from, to) and returns it with the answer.
func viewsTotal(t testing.TB, h http.Handler, from, to time.Time) (int64, rowsResponse) {
	t.Helper()
	var resp rowsResponse
	decode(t, serveGET(h, "/v1/views/page_views?key=u&from="+rfc(from)+"&to="+rfc(to)), &resp)
	return resp.Totals["views"], resp
}

func TestHalfWrittenRunIsNeverServed(t *testing.T) {
	st := openStore(t)
	srv := newTestServer(t, st, nil)
	d1 := day0.AddDate(0, 0, 1)
	writeBatch(t, st, "run-a", row(views.PageViews, "u", day0.Add(time.Hour), pv(1, 1)))
	publish(t, st, "run-a", day0)
	upsertSpeed(t, st, row(views.PageViews, "u", d1.Add(time.Hour), pv(10, 1)))
	if got, _ := viewsTotal(t, srv, day0, d1.Add(day)); got != 11 {
		t.Fatalf("before the rerun: total = %d, want 11", got)
	}
	// A rerun of both days writes its rows but has not published them yet.
	writeBatch(t, st, "run-b", row(views.PageViews, "u", day0.Add(time.Hour), pv(2, 1)), row(views.PageViews, "u", d1.Add(time.Hour), pv(20, 1)))
	if got, resp := viewsTotal(t, srv, day0, d1.Add(day)); got != 11 || *resp.BatchCutoff != rfc(d1) {
		t.Fatalf("half-written run: total = %d, cutoff %v; want 11 and %s", got, *resp.BatchCutoff, rfc(d1))
	}
	publish(t, st, "run-b", day0, d1)
	got, resp := viewsTotal(t, srv, day0, d1.Add(day))
	if got != 22 || *resp.BatchCutoff != rfc(d1.Add(day)) || resp.Rows[1].Layer != views.Batch {
		t.Fatalf("after publishing: total = %d, answer %+v; want 22 all from batch", got, resp)
	}
}

func TestGapIsAnsweredBySpeed(t *testing.T) {
	st := openStore(t)
	srv := newTestServer(t, st, nil)
	d := func(i int) time.Time { return day0.AddDate(0, 0, i) }
	writeBatch(t, st, "run-a", row(views.PageViews, "u", d(0), pv(1, 1)))
	writeBatch(t, st, "run-c", row(views.PageViews, "u", d(2), pv(300, 1)))
	publish(t, st, "run-a", d(0))
	publish(t, st, "run-c", d(2)) // day 1 is missing: its backfill failed
	upsertSpeed(t, st, row(views.PageViews, "u", d(0), pv(1000, 1)), row(views.PageViews, "u", d(1), pv(20, 1)), row(views.PageViews, "u", d(2), pv(30, 1)))

	got, resp := viewsTotal(t, srv, d(0), d(3))
	if got != 51 || *resp.BatchCutoff != rfc(d(1)) {
		t.Errorf("with a gap: total = %d, cutoff %s; want 1+20+30 and %s", got, *resp.BatchCutoff, rfc(d(1)))
	}
	writeBatch(t, st, "run-b", row(views.PageViews, "u", d(1), pv(2, 1)))
	publish(t, st, "run-b", d(1))
	got, resp = viewsTotal(t, srv, d(0), d(3))
	if got != 303 || *resp.BatchCutoff != rfc(d(3)) {
		t.Errorf("gap filled: total = %d, cutoff %s; want 1+2+300 and %s", got, *resp.BatchCutoff, rfc(d(3)))
	}
}

func TestCacheFollowsTheStore(t *testing.T) {
	st := openStore(t)
	clock := newClock(day0)
	srv := newTestServer(t, st, &Options{StateRefresh: -1, CacheTTL: time.Second, Now: clock.now})
	ctx := context.Background()
	upsertSpeed(t, st, row(views.PageViews, "u", day0, pv(1, 1)))
	total := func() int64 { n, _ := viewsTotal(t, srv, day0, day0.Add(time.Hour)); return n }
	if got := total(); got != 1 {
		t.Fatalf("total = %d, want 1", got)
	}
	upsertSpeed(t, st, row(views.PageViews, "u", day0, pv(2, 1)))
	if got := total(); got != 1 {
		t.Errorf("within the TTL, same watermark: total = %d, want the cached 1", got)
	}
	clock.set(day0.Add(time.Second))
	if got := total(); got != 2 {
		t.Errorf("after the TTL: total = %d, want 2", got)
	}
	upsertSpeed(t, st, row(views.PageViews, "u", day0, pv(3, 1)))
	if err := st.SetSpeedWatermark(ctx, day0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := total(); got != 3 {
		t.Errorf("after the watermark moved: total = %d, want 3", got)
	}
	writeBatch(t, st, "run-a", row(views.PageViews, "u", day0, pv(4, 1)))
	publish(t, st, "run-a", day0)
	if got := total(); got != 4 {
		t.Errorf("after a publish: total = %d, want 4", got)
	}
}

// faultyStore is the real store's driver with Query replaced.
type faultyStore struct {
	store.Driver
	query func(ctx context.Context, q store.Query) ([]views.Row, error)
}

func (f faultyStore) Query(ctx context.Context, q store.Query) ([]views.Row, error) {
	return f.query(ctx, q)
}

// faulty returns the store of t's openStore with Query replaced by query.
func faulty(t *testing.T, query func(ctx context.Context, q store.Query) ([]views.Row, error)) *store.Store {
	return store.New("faulty", faultyStore{openStore(t).Driver(), query}, store.Options{})
}

func TestStoreFailures(t *testing.T) {
	target := "/v1/views/page_views?key=u&from=" + rfc(day0) + "&to=" + rfc(day0.Add(time.Hour))
	t.Run("timeout", func(t *testing.T) {
		slow := faulty(t, func(ctx context.Context, _ store.Query) ([]views.Row, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		srv := newTestServer(t, slow, &Options{StateRefresh: -1, StoreTimeout: 20 * time.Millisecond})
		code, body := do(t, srv, target)
		if code != http.StatusGatewayTimeout || !strings.Contains(body["error"].(string), "20ms") {
			t.Errorf("slow store: %d %v, want 504 naming the timeout", code, body)
		}
	})
	t.Run("error", func(t *testing.T) {
		broken := faulty(t, func(context.Context, store.Query) ([]views.Row, error) {
			return nil, errors.New("disk on fire")
		})
		srv := newTestServer(t, broken, nil)
		code, body := do(t, srv, target)
		if code != http.StatusBadGateway || strings.Contains(body["error"].(string), "fire") {
			t.Errorf("broken store: %d %v, want 502 without the internal error", code, body)
		}
	})
}
