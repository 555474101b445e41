package api

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
)

// BenchmarkMergedHour measures the handler alone (no network) on the query of
// scripts/bench-serving.sh: one page_views key for the hour that spans the cutoff.
func BenchmarkMergedHour(b *testing.B) {
	st := openStore(b)
	cut := day0.AddDate(0, 0, 1)
	const nkeys = 20
	var batch, speed []views.Row
	for i := range nkeys {
		key := fmt.Sprintf("https://shop.example/p/%d", i)
		for w := cut.Add(-3 * time.Hour); w.Before(cut.Add(2 * time.Hour)); w = w.Add(time.Minute) {
			r := row(views.PageViews, key, w, pv(int64(i+1), 1))
			if w.Before(cut) {
				batch = append(batch, r)
			} else {
				speed = append(speed, r)
			}
		}
	}
	writeBatch(b, st, "run-a", batch...)
	publish(b, st, "run-a", day0)
	upsertSpeed(b, st, speed...)
	targets := make([]string, nkeys)
	for i := range targets {
		targets[i] = "/v1/views/page_views?" + url.Values{"key": {fmt.Sprintf("https://shop.example/p/%d", i)},
			"from": {rfc(cut.Add(-30 * time.Minute))}, "to": {rfc(cut.Add(30 * time.Minute))}}.Encode()
	}
	for _, bb := range []struct {
		name string
		opts Options
	}{
		{"cached", Options{}},
		{"no-cache", Options{CacheEntries: -1}},
		{"no-cache-state-per-request", Options{CacheEntries: -1, StateRefresh: -1}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			srv := newTestServer(b, st, &bb.opts)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if rec := serveGET(srv, targets[i%nkeys]); rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				i++
			}
		})
	}
}
