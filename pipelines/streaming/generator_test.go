package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// TestGeneratorSpeedViewsMatchReferenceAndBackfill runs the job on a finite generator stream
// (duplicates, late events within the allowed lateness, bots and garbage; 100 minutes of event
// time), which then ends, so every window closes. The speed views must equal the independent
// reference computed from the raw archive the job wrote, and the batch job's graph backfilled
// from that archive must give the same rows: for closed windows the two layers agree.
func TestGeneratorSpeedViewsMatchReferenceAndBackfill(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const records = 12000
	src := fmt.Sprintf("generator://?rate=3000&speedup=500&count=%d&seed=11&dup=0.03&late=0.05&bad=0.02&bots=0.02&users=300&max_late=3m&start=%s",
		records, start.Format(time.RFC3339))
	cfg := testConfig(t, src)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Counters
	if c["read"] != records || c["archived"] != records {
		t.Errorf("read %d, archived %d records; want %d each", c["read"], c["archived"], records)
	}
	day := start.Truncate(24 * time.Hour)
	want := expected(t, cfg, day, day)
	if want.Counts.Read != records {
		t.Fatalf("the archive holds %d records, want %d", want.Counts.Read, records)
	}
	speed := rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1))
	diffRows(t, "speed views differ from the reference computed on the archive", want.Rows, speed)
	if got, w := c["processed"], want.Counts.Processed; got != w {
		t.Errorf("processed %d events, reference %d", got, w)
	}
	if got, w := c["duplicates"], want.Counts.Duplicates; got != w {
		t.Errorf("%d duplicates, reference %d", got, w)
	}
	if got, w := int64(len(deadLetters(t, cfg.DeadLetter))), sumOf(want.Counts.DeadLettered); got != w {
		t.Errorf("%d dead letters written, reference %d", got, w)
	}
	backfill(t, cfg, day, day)
	batch := rowsOf(t, cfg.Store, views.Batch, day, day.AddDate(0, 0, 1))
	diffRows(t, "the batch backfill of the archive differs from the speed views", speed, batch)
}

func sumOf(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// TestRunForStopsCleanly runs an endless generator stream with --run_for: the job is cancelled
// through the job service (no error), it has recorded a speed watermark, and every minute
// window that had closed by then (its end plus the allowed lateness before the watermark)
// equals the reference computed from the archive. Windows still open are not flushed.
func TestRunForStopsCleanly(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	// A rate that a loaded 2-core machine keeps up with (other test packages run beside this
	// one): at 2,000 events/s and 8 s, the job fell behind and no window had closed when it
	// stopped. 400 events/s at 300x is 5 minutes of event time per second.
	src := "generator://?rate=400&speedup=300&seed=5&dup=0.03&late=0.05&bad=0.02&users=300&max_late=1m&start=" + start.Format(time.RFC3339)
	cfg := testConfig(t, src)
	cfg.AllowedLateness = 2 * time.Minute
	cfg.RunFor = 15 * time.Second
	began := time.Now()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Minute {
		t.Errorf("the job took %s to stop after --run_for=%s", took, cfg.RunFor)
	}
	wm := speedWatermark(t, cfg.Store)
	closed := wm.Add(-cfg.AllowedLateness)
	if !closed.After(start.Add(2 * time.Minute)) {
		t.Fatalf("speed watermark %s: too few windows closed to compare (read %d)", wm, rep.Counters["read"])
	}
	day := start.Truncate(24 * time.Hour)
	want := minuteRows(expected(t, cfg, day, day).Rows, closed)
	got := minuteRows(rowsOf(t, cfg.Store, views.Speed, day, day.AddDate(0, 0, 1)), closed)
	diffRows(t, "closed minute windows differ from the reference computed on the archive", want, got)
	t.Logf("read %d records; compared %d rows of the minute windows that closed by %s", rep.Counters["read"], len(want), closed)
}

// minuteRows returns the rows of 1-minute windows that end at or before closed.
func minuteRows(rows []views.Row, closed time.Time) []views.Row {
	var out []views.Row
	for _, r := range rows {
		if r.WindowEnd.Sub(r.WindowStart) == time.Minute && !r.WindowEnd.After(closed) {
			out = append(out, r)
		}
	}
	return out
}

func speedWatermark(t *testing.T, url string) time.Time {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wm, err := st.SpeedWatermark(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return wm
}
