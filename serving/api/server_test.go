package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
)

// fixedClock is a clock that tests move by hand.
type fixedClock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *fixedClock {
	c := &fixedClock{}
	c.set(t)
	return c
}

func (c *fixedClock) now() time.Time  { return *c.t.Load() }
func (c *fixedClock) set(t time.Time) { c.t.Store(&t) }

func TestRowsAnswerMergesLayers(t *testing.T) {
	st := openStore(t)
	cut := day0.AddDate(0, 0, 1)
	url1 := "https://shop.example/p/1"
	writeBatch(t, st, "run-a", row(views.PageViews, url1, day0.Add(13*time.Hour+5*time.Minute), pv(3, 2)))
	publish(t, st, "run-a", day0)
	upsertSpeed(t, st,
		row(views.PageViews, url1, day0.Add(13*time.Hour+5*time.Minute), pv(1000, 1000)), // older than the cutoff
		row(views.PageViews, url1, cut.Add(5*time.Minute), pv(1, 1)))
	if err := st.SetSpeedWatermark(context.Background(), cut.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clock := newClock(cut.Add(10*time.Minute + 30*time.Second))
	srv := newTestServer(t, st, &Options{StateRefresh: -1, Now: clock.now})

	target := "/v1/views/page_views?" + url.Values{"key": {url1}, "from": {rfc(day0.Add(13 * time.Hour))}, "to": {rfc(cut.Add(time.Hour))}}.Encode()
	code, got := do(t, srv, target)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %v", target, code, got)
	}
	want := map[string]any{
		"view": "page_views", "key": url1, "from": "2026-11-20T13:00:00Z", "to": "2026-11-21T01:00:00Z", "granularity": "1m",
		"batch_cutoff": "2026-11-21T00:00:00Z",
		"layers": []any{
			map[string]any{"layer": "batch", "from": "2026-11-20T13:00:00Z", "to": "2026-11-21T00:00:00Z"},
			map[string]any{"layer": "speed", "from": "2026-11-21T00:00:00Z", "to": "2026-11-21T01:00:00Z"},
		},
		"rows": []any{
			map[string]any{"window_start": "2026-11-20T13:05:00Z", "window_end": "2026-11-20T13:06:00Z", "layer": "batch",
				"metrics": map[string]any{"views": 3.0, "visitors": 2.0}},
			map[string]any{"window_start": "2026-11-21T00:05:00Z", "window_end": "2026-11-21T00:06:00Z", "layer": "speed",
				"metrics": map[string]any{"views": 1.0, "visitors": 1.0}},
		},
		"totals":    map[string]any{"views": 4.0},
		"freshness": map[string]any{"speed_watermark": "2026-11-21T00:10:00Z", "lag_seconds": 30.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET %s (-want +got):\n%s", target, diff)
	}
}

func TestGranularity(t *testing.T) {
	st := openStore(t)
	cut := day0.AddDate(0, 0, 1)
	writeBatch(t, st, "run-a",
		row(views.PageViews, "u", cut.Add(-2*time.Minute), pv(2, 2)),
		row(views.PageViews, "u", cut.Add(-time.Minute), pv(3, 2)),
		row(views.Sessions, "DE", cut.Add(-time.Hour), map[string]int64{"sessions": 2, "events": 5, "duration_s": 60}))
	publish(t, st, "run-a", day0)
	upsertSpeed(t, st, row(views.PageViews, "u", cut.Add(time.Minute), pv(4, 1)))
	srv := newTestServer(t, st, nil)
	q := func(view, key, gran string, from, to time.Time) string {
		v := url.Values{"key": {key}, "from": {rfc(from)}, "to": {rfc(to)}}
		if gran != "" {
			v.Set("granularity", gran)
		}
		return "/v1/views/" + view + "?" + v.Encode()
	}

	var hourly rowsResponse
	decode(t, serveGET(srv, q(views.PageViews, "u", "1h", cut.Add(-time.Hour), cut.Add(time.Hour))), &hourly)
	wantRows := []rowJSON{
		{"2026-11-20T23:00:00Z", "2026-11-21T00:00:00Z", views.Batch, map[string]int64{"views": 5}},
		{"2026-11-21T00:00:00Z", "2026-11-21T01:00:00Z", views.Speed, map[string]int64{"views": 4}},
	}
	if diff := cmp.Diff(wantRows, hourly.Rows); diff != "" {
		t.Errorf("1h rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"visitors"}, hourly.OmittedMetrics); diff != "" || !strings.Contains(hourly.Note, "visitors") {
		t.Errorf("omitted_metrics = %v, note %q; want visitors named in both", hourly.OmittedMetrics, hourly.Note)
	}

	var daily rowsResponse
	decode(t, serveGET(srv, q(views.PageViews, "u", "1d", day0, cut.Add(day))), &daily)
	if len(daily.Rows) != 2 || daily.Rows[0].Metrics["views"] != 5 || daily.Totals["views"] != 9 {
		t.Errorf("1d answer = %+v", daily)
	}

	var sessions rowsResponse
	decode(t, serveGET(srv, q(views.Sessions, "DE", "", day0, cut)), &sessions)
	if sessions.Granularity != "1h" || len(sessions.Rows) != 1 || sessions.Rows[0].Metrics["duration_s"] != 60 || sessions.OmittedMetrics != nil {
		t.Errorf("sessions at its own granularity = %+v", sessions)
	}
	code, body := do(t, srv, q(views.Sessions, "DE", "1m", day0, cut))
	if code != http.StatusBadRequest || !strings.Contains(body["error"].(string), "finer") {
		t.Errorf("sessions at 1m = %d %v, want 400 naming the finer granularity", code, body)
	}
}

func TestValidation(t *testing.T) {
	srv := newTestServer(t, openStore(t), &Options{StateRefresh: -1, MaxRange: 48 * time.Hour})
	from, to := rfc(day0), rfc(day0.Add(time.Hour))
	rows := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return "/v1/views/page_views?" + v.Encode()
	}
	tests := []struct {
		name, target string
		code         int
		errPart      string
	}{
		{"unknown view", "/v1/views/nope?key=k&from=" + from + "&to=" + to, 404, `unknown view "nope"`},
		{"unknown view top", "/v1/views/nope/top?metric=views&from=" + from + "&to=" + to, 404, "unknown view"},
		{"missing key", rows("from", from, "to", to), 400, "key is required"},
		{"missing from", rows("key", "k", "to", to), 400, "from is required"},
		{"bad from", rows("key", "k", "from", "yesterday", "to", to), 400, "not an RFC 3339 time"},
		{"unencoded plus", "/v1/views/page_views?key=k&from=2026-11-20T01:00:00+01:00&to=" + to, 400, "%2B"},
		{"from equals to", rows("key", "k", "from", from, "to", from), 400, "must be before"},
		{"from after to", rows("key", "k", "from", to, "to", from), 400, "must be before"},
		{"range over the limit", rows("key", "k", "from", from, "to", rfc(day0.Add(49*time.Hour))), 400, "the limit is 48h"},
		{"misaligned", rows("key", "k", "from", rfc(day0.Add(30*time.Second)), "to", to), 400, "1m boundaries"},
		{"misaligned for 1h", rows("key", "k", "from", rfc(day0.Add(time.Minute)), "to", to, "granularity", "1h"), 400, "1h boundaries"},
		{"year 0", rows("key", "k", "from", "0000-01-01T00:00:00Z", "to", to), 400, "out of range"},
		{"unknown granularity", rows("key", "k", "from", from, "to", to, "granularity", "5m"), 400, "not one of 1m, 1h, 1d"},
		{"key too long", rows("key", strings.Repeat("k", 1025), "from", from, "to", to), 400, "the limit is 1024"},
		{"unknown parameter", rows("key", "k", "from", from, "to", to, "granularty", "1h"), 400, `unknown parameter "granularty"`},
		{"repeated parameter", rows("key", "k", "key", "j", "from", from, "to", to), 400, "given 2 times"},
		{"malformed query", "/v1/views/page_views?key=%zz&from=" + from + "&to=" + to, 400, "malformed"},
		{"top without metric", "/v1/views/page_views/top?from=" + from + "&to=" + to, 400, "metric is required"},
		{"top unknown metric", "/v1/views/page_views/top?metric=clicks&from=" + from + "&to=" + to, 400, `unknown metric "clicks"`},
		{"top distinct count", "/v1/views/page_views/top?metric=visitors&from=" + from + "&to=" + to, 400, "distinct count"},
		{"top n too big", "/v1/views/page_views/top?metric=views&n=1001&from=" + from + "&to=" + to, 400, "from 1 to 1000"},
		{"top n zero", "/v1/views/page_views/top?metric=views&n=0&from=" + from + "&to=" + to, 400, "from 1 to 1000"},
		{"top n not a number", "/v1/views/page_views/top?metric=views&n=ten&from=" + from + "&to=" + to, 400, "from 1 to 1000"},
		{"keys without range", "/v1/views/page_views/keys", 400, "from is required"},
		{"status takes no parameters", "/v1/status?verbose=1", 400, "unknown parameter"},
		{"unknown path", "/v2/views", 404, "no endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveGET(srv, tt.target)
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not {\"error\": ...}: %v", rec.Body.String(), err)
			}
			if rec.Code != tt.code || !strings.Contains(body["error"], tt.errPart) {
				t.Errorf("GET %s = %d %q; want %d with %q", tt.target, rec.Code, body["error"], tt.code, tt.errPart)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newTestServer(t, openStore(t), nil)
	for _, path := range []string{"/v1/status", "/v1/views/page_views"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, nil))
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("POST %s = %d %s, want 405 with a JSON error", path, rec.Code, rec.Body.String())
		}
	}
}

func TestAuth(t *testing.T) {
	srv := newTestServer(t, openStore(t), &Options{StateRefresh: -1, AuthToken: "s3cret"})
	tests := []struct {
		path, auth string
		code       int
	}{
		{"/v1/status", "", 401},
		{"/v1/status", "Bearer wrong", 401},
		{"/v1/status", "Bearer s3cre", 401},
		{"/v1/status", "Basic s3cret", 401},
		{"/v1/status", "Bearer s3cret", 200},
		{"/v1/status", "bearer s3cret", 200},
		{"/metrics", "", 401},
		{"/openapi.json", "", 401},
		{"/v1/views/page_views/keys?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z", "", 401},
		{"/healthz", "", 200},
	}
	for _, tt := range tests {
		rec := serveGET(srv, tt.path, "Authorization", tt.auth)
		if rec.Code != tt.code {
			t.Errorf("GET %s with %q = %d, want %d", tt.path, tt.auth, rec.Code, tt.code)
		}
		if tt.code == 401 && (rec.Header().Get("WWW-Authenticate") == "" || !strings.Contains(rec.Body.String(), `"error"`)) {
			t.Errorf("GET %s with %q: 401 without WWW-Authenticate or JSON error: %v %s", tt.path, tt.auth, rec.Header(), rec.Body)
		}
	}
}

func TestTopAndKeys(t *testing.T) {
	st := openStore(t)
	cut := day0.AddDate(0, 0, 1)
	ca := func(country string, start time.Time, events int64) views.Row {
		return row(views.CountryActivity, country, start, map[string]int64{"events": events, "pageviews": events, "clicks": 0, "posts": 0, "flagged": 0})
	}
	writeBatch(t, st, "run-a", ca("DE", cut.Add(-time.Minute), 5), ca("FR", cut.Add(-time.Minute), 7))
	publish(t, st, "run-a", day0)
	upsertSpeed(t, st, ca("DE", cut, 4), ca("US", cut.Add(time.Minute), 1), ca("ZZ", cut.Add(-time.Minute), 100))
	srv := newTestServer(t, st, nil)
	rng := "from=" + rfc(cut.Add(-time.Hour)) + "&to=" + rfc(cut.Add(time.Hour))

	var tp topResponse
	decode(t, serveGET(srv, "/v1/views/country_activity/top?metric=events&n=2&"+rng), &tp)
	if diff := cmp.Diff([]keyValue{{"DE", 9}, {"FR", 7}}, tp.Top); diff != "" {
		t.Errorf("top (-want +got):\n%s", diff)
	}
	var ks keysResponse
	decode(t, serveGET(srv, "/v1/views/country_activity/keys?"+rng), &ks)
	if diff := cmp.Diff([]string{"DE", "FR", "US"}, ks.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if ks.BatchCutoff == nil || *ks.BatchCutoff != rfc(cut) || len(ks.Layers) != 2 {
		t.Errorf("keys answer cutoff/layers = %v %v", ks.BatchCutoff, ks.Layers)
	}
}

func TestStatus(t *testing.T) {
	st := openStore(t)
	for i, d := range []int{0, 1, 3} {
		run := "run-" + string(rune('a'+i))
		writeBatch(t, st, run, row(views.PageViews, "u", day0.AddDate(0, 0, d), pv(1, 1)))
		publish(t, st, run, day0.AddDate(0, 0, d))
	}
	wm := day0.AddDate(0, 0, 4).Add(time.Hour)
	if err := st.SetSpeedWatermark(context.Background(), wm); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, st, &Options{StateRefresh: -1, Now: func() time.Time { return wm.Add(90 * time.Second) }})
	code, got := do(t, srv, "/v1/status")
	if code != 200 {
		t.Fatalf("status = %d %v", code, got)
	}
	nr := got["newest_run"].(map[string]any)
	delete(nr, "published_at")
	want := map[string]any{
		"batch_cutoff":        "2026-11-22T00:00:00Z",
		"newest_run":          map[string]any{"run": "run-c", "days": []any{"2026-11-23"}},
		"published_days":      3.0,
		"first_published_day": "2026-11-20",
		"last_published_day":  "2026-11-23",
		"gap_days":            []any{"2026-11-22"},
		"freshness":           map[string]any{"speed_watermark": "2026-11-24T01:00:00Z", "lag_seconds": 90.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	empty := newTestServer(t, openStore(t), nil)
	code, got = do(t, empty, "/v1/status")
	if code != 200 || got["batch_cutoff"] != nil || got["newest_run"] != nil || got["freshness"].(map[string]any)["lag_seconds"] != nil {
		t.Errorf("status of an empty store = %d %v", code, got)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	srv := newTestServer(t, openStore(t), nil)
	serveGET(srv, "/v1/views/page_views?key=u&from="+rfc(day0)+"&to="+rfc(day0.Add(time.Hour)))
	serveGET(srv, "/v1/views/nope?key=u")
	rec := serveGET(srv, "/metrics")
	body := rec.Body.String()
	for _, want := range []string{
		`beamline_serving_requests_total{code="200",route="/v1/views/{view}"} 1`,
		`beamline_serving_requests_total{code="404",route="/v1/views/{view}"} 1`,
		`beamline_serving_store_calls_total{op="query_speed",result="ok"} 1`,
		`beamline_serving_cache_lookups_total{result="miss"} 1`,
		"beamline_serving_batch_cutoff_timestamp_seconds 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type = %q", ct)
	}
}

func TestHealthz(t *testing.T) {
	code, body := do(t, newTestServer(t, openStore(t), nil), "/healthz")
	if code != 200 || body["status"] != "ok" {
		t.Errorf("/healthz = %d %v", code, body)
	}
}

func TestKeysAreNotHTMLEscaped(t *testing.T) {
	st := openStore(t)
	key := "https://shop.example/search?q=<shoes>&page=2"
	upsertSpeed(t, st, row(views.PageViews, key, day0, pv(1, 1)))
	srv := newTestServer(t, st, nil)
	rec := serveGET(srv, "/v1/views/page_views?"+url.Values{"key": {key}, "from": {rfc(day0)}, "to": {rfc(day0.Add(time.Hour))}}.Encode())
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"key":"`+key+`"`) {
		t.Errorf("answer does not carry the key verbatim: %d %s", rec.Code, rec.Body)
	}
}
