package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/beamline/beamline/pipelines/internal/jobservice"
)

// TestLiveMetrics scrapes the running job's /metrics (--metrics_addr) twice: the job is up and
// its counters grow while it runs.
func TestLiveMetrics(t *testing.T) {
	port, err := jobservice.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	cfg := testConfig(t, "generator://?rate=300&speedup=60&seed=3&bad=0.02&users=200&start="+start.Format(time.RFC3339))
	cfg.MetricsAddr, cfg.MetricsEvery, cfg.RunFor = fmt.Sprintf("127.0.0.1:%d", port), 500*time.Millisecond, 2*time.Minute
	ctx, stop := context.WithCancel(context.Background()) // stops the job as Ctrl-C does, once seen
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	first := scrapeUntil(t, url, done, func(read int64) bool { return read > 0 })
	second := scrapeUntil(t, url, done, func(read int64) bool { return read > first })
	t.Logf("beamline_read_total grew from %d to %d", first, second)
	// Once the job has recorded a speed watermark, its time and lag are served too; the lag is
	// about the clock minus the generator's event time (it started 10:00 on 2026-11-20).
	for deadline := time.Now().Add(time.Minute); ; {
		body := scrape(t, url)
		wm := regexp.MustCompile(`(?m)^beamline_speed_watermark_timestamp_seconds (\S+)$`).FindStringSubmatch(body)
		lag := regexp.MustCompile(`(?m)^beamline_speed_watermark_lag_seconds (\S+)$`).FindStringSubmatch(body)
		if wm != nil && lag != nil {
			w, _ := strconv.ParseFloat(wm[1], 64)
			l, _ := strconv.ParseFloat(lag[1], 64)
			if w < float64(start.Unix()) || l < time.Since(start.Add(time.Hour)).Seconds() {
				t.Errorf("speed watermark %s (lag %s s): want one after the stream's start, lagging about the clock minus it", wm[1], lag[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no speed watermark metrics after a minute:\n%s", body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

var readTotal = regexp.MustCompile(`(?m)^beamline_read_total (\d+)`)

// scrapeUntil scrapes url every 250 ms until the job is up and ok accepts beamline_read_total,
// and returns it; it fails if the job ends first.
func scrapeUntil(t *testing.T, url string, done <-chan error, ok func(int64) bool) int64 {
	t.Helper()
	for {
		select {
		case err := <-done:
			t.Fatalf("the job ended (err %v) before its metrics showed the counters growing", err)
		case <-time.After(250 * time.Millisecond):
		}
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := readTotal.FindSubmatch(body)
		if m == nil || !regexp.MustCompile(`(?m)^beamline_job_up 1$`).Match(body) {
			continue
		}
		if n, _ := strconv.ParseInt(string(m[1]), 10, 64); ok(n) {
			return n
		}
	}
}
