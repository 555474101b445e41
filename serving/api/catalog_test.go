package api

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
)

// TestCatalog lists every view with its key, window and metrics, the published batch days with
// the cutoff, and the speed layer's span from the cutoff to its watermark.
func TestCatalog(t *testing.T) {
	st := openStore(t)
	writeBatch(t, st, "run-a", row(views.PageViews, "/p", day0, pv(1, 1)))
	publish(t, st, "run-a", day0)
	if err := st.SetSpeedWatermark(context.Background(), day0.Add(30*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var got catalogResponse
	decode(t, serveGET(newTestServer(t, st, nil), "/v1/views"), &got)
	if len(got.Views) != len(views.All()) {
		t.Fatalf("catalog lists %d views, want %d", len(got.Views), len(views.All()))
	}
	pv := got.Views[0]
	want := catalogView{Name: views.PageViews, Key: pv.Key, Window: "1m",
		Metrics: []catalogMetric{{"views", true}, {"visitors", false}},
		Batch:   catalogBatch{PublishedDays: 1, FirstDay: ptr("2026-11-20"), LastDay: ptr("2026-11-20"), GapDays: []string{}, Cutoff: ptr("2026-11-21T00:00:00Z")},
		Speed:   catalogSpeed{From: ptr("2026-11-21T00:00:00Z"), Watermark: ptr("2026-11-21T06:00:00Z")}}
	if d := cmp.Diff(want, pv); d != "" || pv.Key == "" {
		t.Errorf("catalog entry of page_views (-want +got):\n%s", d)
	}
}
