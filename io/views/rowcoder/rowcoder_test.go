package rowcoder

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/views"
)

// TestRoundTrip: a row comes back equal, every field.
func TestRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 1, 0, 0, time.UTC)
	row := views.Row{View: views.PageViews, Key: "https://x/\x1fy", WindowStart: start, WindowEnd: start.Add(time.Minute),
		Metrics: map[string]int64{views.MetricViews: 3, views.MetricVisitors: 2}, Layer: views.Speed}
	b, err := Encode(row)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil || !cmp.Equal(row, back) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, row)
	}
}

// FuzzDecode: no input makes Decode panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"View":"page_views"}`))
	f.Fuzz(func(_ *testing.T, b []byte) { Decode(b) })
}
