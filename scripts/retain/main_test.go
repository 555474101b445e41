package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// TestRun deletes, on demand, the speed rows of the published day behind the retention and
// keeps those of the days after it.
func TestRun(t *testing.T) {
	ctx := context.Background()
	url := "sqlite://" + filepath.Join(t.TempDir(), "views.db")
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	row := func(d time.Time) views.Row {
		return views.Row{View: views.PageViews, Key: "/", WindowStart: d.Add(time.Hour), WindowEnd: d.Add(time.Hour + time.Minute),
			Metrics: map[string]int64{views.MetricViews: 1, views.MetricVisitors: 1}}
	}
	rows := []views.Row{row(day), row(day.AddDate(0, 0, 1)), row(day.AddDate(0, 0, 2))}
	runID := store.NewRunID(time.Now())
	if err := errors.Join(st.UpsertSpeed(ctx, rows), st.WriteBatch(ctx, runID, rows[:2]), st.Publish(ctx, runID, []time.Time{day, day.AddDate(0, 0, 1)})); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := run(ctx, url, 24*time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	left, err := st.Query(ctx, store.Query{View: views.PageViews, Layer: views.Speed, From: day, To: day.AddDate(0, 0, 3)})
	if err != nil || len(left) != 2 || !left[0].WindowStart.Equal(day.AddDate(0, 0, 1).Add(time.Hour)) {
		t.Errorf("speed rows left: %v (err %v), want those of the last two days", left, err)
	}
}
