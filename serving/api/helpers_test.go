package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

// day0 is the first day of the test data.
var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// openStore opens a fresh sqlite store in a temporary directory, closed at the end of the test.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "views.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newTestServer returns a server over st that sees every Publish at once. opts may be nil.
func newTestServer(t testing.TB, st *store.Store, opts *Options) *Server {
	t.Helper()
	o := Options{StateRefresh: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opts != nil {
		o = *opts
		if o.Logger == nil {
			o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	}
	return New(st, &o)
}

// do sends a GET for target to h and returns the status and the decoded JSON body.
func do(t testing.TB, h http.Handler, target string, header ...string) (int, map[string]any) {
	t.Helper()
	rec := serveGET(h, target, header...)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: status %d, body %q is not a JSON object: %v", target, rec.Code, rec.Body.String(), err)
	}
	return rec.Code, body
}

func serveGET(h http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decode decodes the JSON body of rec into v.
func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body.String(), err)
	}
}

// row returns a row of view for key at start with metrics, which must name every metric of view.
func row(view, key string, start time.Time, metrics map[string]int64) views.Row {
	spec, _ := views.Lookup(view)
	return views.Row{View: view, Key: key, WindowStart: start, WindowEnd: start.Add(spec.Window), Metrics: metrics}
}

func pv(views_, visitors int64) map[string]int64 {
	return map[string]int64{views.MetricViews: views_, views.MetricVisitors: visitors}
}

func writeBatch(t testing.TB, st *store.Store, run string, rows ...views.Row) {
	t.Helper()
	if err := st.WriteBatch(context.Background(), run, rows); err != nil {
		t.Fatalf("write batch %s: %v", run, err)
	}
}

func publish(t testing.TB, st *store.Store, run string, days ...time.Time) {
	t.Helper()
	if err := st.Publish(context.Background(), run, days); err != nil {
		t.Fatalf("publish %s: %v", run, err)
	}
}

func upsertSpeed(t testing.TB, st *store.Store, rows ...views.Row) {
	t.Helper()
	if err := st.UpsertSpeed(context.Background(), rows); err != nil {
		t.Fatalf("upsert speed: %v", err)
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
