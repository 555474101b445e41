package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
)

// TestRuns serves the run history: the list newest first without reports, one run with its
// report, a run replaced by a later one as replaced, and 404 for an unknown run.
func TestRuns(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 3, 15, 0, 0, time.UTC)
	const a, b = "run-20261121T031500.000Z-00000a", "run-20261122T031500.000Z-00000b"
	for _, r := range []store.RunInfo{
		{Run: a, Days: []time.Time{day0}, Status: store.RunPublished, Started: t0, Ended: t0.Add(time.Minute), Report: `{"Read":10}`},
		{Run: b, Days: []time.Time{day0}, Status: store.RunPublished, Started: t0.Add(24 * time.Hour), Ended: t0.Add(24*time.Hour + time.Minute), Report: `{"Read":12}`},
	} {
		if err := st.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		publish(t, st, r.Run, day0)
	}
	srv := newTestServer(t, st, nil)
	var list runList
	decode(t, serveGET(srv, "/v1/runs"), &list)
	want := runList{Runs: []batchRunJSON{
		{Run: b, Days: []string{"2026-11-20"}, Status: "published", Started: ptr("2026-11-22T03:15:00Z"), Ended: ptr("2026-11-22T03:16:00Z")},
		{Run: a, Days: []string{"2026-11-20"}, Status: "replaced", Started: ptr("2026-11-21T03:15:00Z"), Ended: ptr("2026-11-21T03:16:00Z")},
	}}
	if d := cmp.Diff(want, list); d != "" {
		t.Errorf("GET /v1/runs (-want +got):\n%s", d)
	}
	var one map[string]any
	decode(t, serveGET(srv, "/v1/runs/"+b), &one)
	if report, _ := one["report"].(map[string]any); report["Read"] != float64(12) || one["status"] != "published" {
		t.Errorf("GET /v1/runs/%s = %v, want the run with its report", b, one)
	}
	if code, _ := do(t, srv, "/v1/runs/run-nope"); code != http.StatusNotFound {
		t.Errorf("GET an unknown run: %d, want 404", code)
	}
}
