package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/beamline/beamline/pipelines/internal/jobservice"
	"github.com/beamline/beamline/pipelines/internal/livemetrics"
)

// serveMetrics serves the counters of the job named job while it runs, read from its job service, and its
// progress: the lake files listed (once listed) and the fraction of them read.
func serveMetrics(ctx context.Context, addr, job string, listed *atomic.Int64) error {
	endpoint, err := jobservice.Endpoint(ctx)
	if err != nil {
		return err
	}
	if endpoint == "" {
		return fmt.Errorf("--metrics_addr needs a job service (Prism, Flink): this runner shows its metrics in its own UI")
	}
	files := func() (float64, bool) { n := listed.Load(); return float64(n), n > 0 }
	url, err := livemetrics.Start(ctx, addr, endpoint, job, 5*time.Second,
		livemetrics.Gauge{Name: "beamline_lake_files_listed", Help: "Lake files the backfill reads (its days' and their context's).",
			Value: func(context.Context, map[string]int64) (float64, bool) { return files() }},
		livemetrics.Gauge{Name: "beamline_lake_read_ratio", Help: "Fraction of the listed lake files read so far.",
			Value: func(_ context.Context, c map[string]int64) (float64, bool) {
				n, ok := files()
				return float64(c["lake_files_read"]) / n, ok
			}})
	if err != nil {
		return err
	}
	slog.Info("backfill: serving live metrics", "url", "http://"+url+"/metrics", "job", job)
	return nil
}
