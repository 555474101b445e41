package main

// The view-store drivers that --store may name, besides sqlite:// (imported in main.go).
import (
	"context"
	"sync"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/bigquerystore" // bigquery://
	_ "github.com/beamline/beamline/io/store/postgresstore" // postgres:// and postgresql://
	"github.com/beamline/beamline/pipelines/internal/livemetrics"
)

// watermarkGauges are the live metrics of the speed watermark that the job records in the store
// at storeURL: its time and how far it lags behind the clock. The store is opened read-only at
// the first poll that finds it, and closed when ctx ends.
func watermarkGauges(ctx context.Context, storeURL string) []livemetrics.Gauge {
	var (
		mu sync.Mutex
		st *store.Store
	)
	read := func(pctx context.Context) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		if st == nil {
			s, err := store.OpenReadOnly(pctx, storeURL)
			if err != nil {
				return time.Time{}, false
			}
			st = s
			context.AfterFunc(ctx, func() { s.Close() })
		}
		wm, err := st.SpeedWatermark(pctx)
		return wm, err == nil && !wm.IsZero()
	}
	return []livemetrics.Gauge{
		{Name: "beamline_speed_watermark_timestamp_seconds", Help: "The speed watermark (event time) the job last recorded in the store, Unix seconds.",
			Value: func(pctx context.Context, _ map[string]int64) (float64, bool) {
				wm, ok := read(pctx)
				return float64(wm.UnixMilli()) / 1e3, ok
			}},
		{Name: "beamline_speed_watermark_lag_seconds", Help: "Now minus the speed watermark the job last recorded: how far the speed layer is behind.",
			Value: func(pctx context.Context, _ map[string]int64) (float64, bool) {
				wm, ok := read(pctx)
				return time.Since(wm).Seconds(), ok
			}},
	}
}
