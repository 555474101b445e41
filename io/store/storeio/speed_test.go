package storeio

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestUpsertSpeedKeepsLatestVersion writes versions of speed rows repeated and out of order:
// the store ends with the largest version of each row, and the speed watermark is the end of
// the latest minute window.
func TestUpsertSpeedKeepsLatestVersion(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	country := func(start time.Time, n int64) views.Row {
		return views.Row{View: views.CountryActivity, Key: "DE", WindowStart: start, WindowEnd: start.Add(time.Minute), Layer: views.Speed,
			Metrics: map[string]int64{"events": n, "pageviews": n, "clicks": 0, "posts": 0, "flagged": 0}}
	}
	sessions := func(n int64) views.Row {
		return views.Row{View: views.Sessions, Key: "DE", WindowStart: t0, WindowEnd: t0.Add(time.Hour), Layer: views.Speed,
			Metrics: map[string]int64{"sessions": n, "events": 2 * n, "duration_s": 10 * n}}
	}
	in := []views.Row{country(t0, 3), country(t0, 1), country(t0, 3), country(t0, 2),
		country(t0.Add(time.Minute), 1), sessions(2), sessions(1)}
	url := "sqlite://" + filepath.Join(t.TempDir(), "views.db")
	p, s := beam.NewPipelineWithRoot()
	UpsertSpeed(s, url, SpeedOptions{AllowedLateness: time.Minute}, beam.CreateList(s, in))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []views.Row
	for _, view := range []string{views.CountryActivity, views.Sessions} {
		rows, err := st.Query(ctx, store.Query{View: view, Layer: views.Speed, From: t0, To: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
	}
	want := []views.Row{country(t0, 3), country(t0.Add(time.Minute), 1), sessions(2)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("speed rows (-want +got):\n%s", d)
	}
	wm, err := st.SpeedWatermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(2 * time.Minute); !wm.Equal(want) {
		t.Errorf("speed watermark %s, want %s (the end of the latest minute window)", wm, want)
	}
}
