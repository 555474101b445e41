package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// TestRetentionKeepsAnswers simulates 30 days of the lambda loop on two stores: each day the
// speed layer writes the day's rows, the nightly run backfills the day before (every fifth
// night a run also fails and is never published), and on one store the nightly run then applies
// retention (speed rows 2 days behind the batch cutoff, unpublished runs after a 2-day grace).
// The retained store's speed rows stay bounded, its unpublished runs are swept, and every
// answer of the API (per key and top, per day and over the whole month, at 1h and 1d) is the same
// on both stores.
func TestRetentionKeepsAnswers(t *testing.T) {
	const keys, days = 20, 30
	retained, kept := openStore(t), openStore(t)
	rowsOf := func(day time.Time) []views.Row {
		var out []views.Row
		for k := range keys {
			for h := range 24 {
				out = append(out, row(views.PageViews, fmt.Sprintf("/p%d", k), day.Add(time.Duration(h)*time.Hour+time.Duration(k)*time.Minute), pv(int64(k+h+1), 1)))
			}
		}
		return out
	}
	ctx := context.Background()
	var swept store.Swept
	for d := range days {
		day := day0.AddDate(0, 0, d)
		now := day.Add(24*time.Hour + 3*time.Hour) // the nightly run, early the next day
		for _, st := range []*store.Store{retained, kept} {
			upsertSpeed(t, st, rowsOf(day)...)
			if d%5 == 4 {
				writeBatch(t, st, store.NewRunID(now.Add(-time.Hour)), rowsOf(day)[:10]...) // a failed run
			}
			run := store.NewRunID(now)
			writeBatch(t, st, run, rowsOf(day)...)
			publish(t, st, run, day)
		}
		sw, err := retained.Retain(ctx, store.Retention{SpeedBefore: day.Add(24*time.Hour - 48*time.Hour), UnpublishedBefore: now.Add(-48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		swept.SpeedRows, swept.BatchRows = swept.SpeedRows+sw.SpeedRows, swept.BatchRows+sw.BatchRows
	}
	last := day0.AddDate(0, 0, days)
	speed, err := retained.Query(ctx, store.Query{View: views.PageViews, Layer: views.Speed, From: day0, To: last})
	if err != nil {
		t.Fatal(err)
	}
	if max := 2 * keys * 24; len(speed) > max {
		t.Errorf("the retained store holds %d speed rows after %d days, want at most %d (two days)", len(speed), days, max)
	}
	if want := int64((days - 2) * keys * 24); swept.SpeedRows != want || swept.BatchRows != 50 {
		t.Errorf("swept %+v, want %d speed rows and the 5 failed runs' 50 rows (the last one is within its grace)", swept, want)
	}

	a, b := newTestServer(t, retained, nil), newTestServer(t, kept, nil)
	var targets []string
	for _, span := range [][2]time.Time{{day0, last}, {day0.AddDate(0, 0, 3), day0.AddDate(0, 0, 4)}, {last.AddDate(0, 0, -2), last}} {
		q := "from=" + rfc(span[0]) + "&to=" + rfc(span[1])
		targets = append(targets, "/v1/views/page_views/top?metric=views&n=5&"+q)
		for _, g := range []string{"1h", "1d"} {
			targets = append(targets, "/v1/views/page_views?key=/p3&granularity="+g+"&"+q)
		}
	}
	for _, target := range targets {
		ra, rb := serveGET(a, target), serveGET(b, target)
		if ra.Code != 200 || ra.Body.String() != rb.Body.String() {
			t.Errorf("GET %s: with retention %d %s\nwithout %d %s", target, ra.Code, ra.Body.String(), rb.Code, rb.Body.String())
		}
	}
}
