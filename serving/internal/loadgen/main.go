// Command loadgen fills a view store with synthetic data and drives the serving API over HTTP, for
// scripts/bench-serving.sh.
//
// # Usage
//
//	loadgen fill --store=sqlite:///tmp/views.db --day=2026-11-20 [--keys=50] [--speed_hours=2]
//	loadgen run --base=http://127.0.0.1:18080 --day=2026-11-20 [--keys=50] [--requests=50000] [--concurrency=32]
//
// fill writes one batch run with a full day of rows for every view and publishes it (so the batch
// cutoff is the end of --day), then speed rows for the first --speed_hours of the next day.
//
// run sends a fixed number of GET requests with bounded concurrency: page_views rows of one key
// (rotating over --keys) for the hour that spans the cutoff, [cutoff-30m, cutoff+30m), so every
// answer merges both layers. It prints requests, errors, req/s and latency percentiles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beamline/beamline/io/store"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen fill|run [flags]; loadgen fill -help, loadgen run -help")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "fill":
		err = fill(args)
	case "run":
		err = runLoad(args)
	default:
		err = fmt.Errorf("unknown command %q: want fill or run", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// keyName returns the page_views key number i.
func keyName(i int) string { return fmt.Sprintf("https://shop.example/p/%d", i) }

func fill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	storeURL := fs.String("store", "", "view store URL (required)")
	dayFlag := fs.String("day", "2026-11-20", "the batch day (UTC)")
	nkeys := fs.Int("keys", 50, "page_views keys (URLs)")
	speedHours := fs.Int("speed_hours", 2, "hours of speed rows after the batch day")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, *dayFlag)
	if err != nil || *storeURL == "" || *nkeys < 1 || *speedHours < 1 {
		return fmt.Errorf("fill: need --store, --day=YYYY-MM-DD, --keys >= 1 and --speed_hours >= 1")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	run := store.NewRunID(start)
	n := 0
	for _, spec := range views.All() {
		rows := synthRows(spec, *nkeys, day, day.Add(24*time.Hour))
		if err := st.WriteBatch(ctx, run, rows); err != nil {
			return fmt.Errorf("fill %s: %w", spec.Name, err)
		}
		n += len(rows)
		speed := synthRows(spec, *nkeys, day.Add(24*time.Hour), day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour))
		if err := st.UpsertSpeed(ctx, speed); err != nil {
			return fmt.Errorf("fill %s speed: %w", spec.Name, err)
		}
		n += len(speed)
	}
	if err := st.Publish(ctx, run, []time.Time{day}); err != nil {
		return err
	}
	if err := st.SetSpeedWatermark(ctx, day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour)); err != nil {
		return err
	}
	fmt.Printf("filled %d rows (batch run %s for %s, %d speed hours) in %s\n", n, run, *dayFlag, *speedHours, time.Since(start).Round(time.Millisecond))
	return nil
}

// synthRows returns a row for every key and window of spec in [from, to), with small metrics that
// vary by key and window.
func synthRows(spec views.Spec, nkeys int, from, to time.Time) []views.Row {
	keys := []string{"DE", "FR", "US", "GB", "ZZ"}
	if spec.Name == views.PageViews {
		keys = nil
		for i := range nkeys {
			keys = append(keys, keyName(i))
		}
	}
	var out []views.Row
	for w := from; w.Before(to); w = w.Add(spec.Window) {
		for i, k := range keys {
			m := make(map[string]int64, len(spec.Metrics))
			for j, mt := range spec.Metrics {
				m[mt.Name] = int64((w.Unix()/60+int64(i)+int64(j))%7 + 1)
			}
			out = append(out, views.Row{View: spec.Name, Key: k, WindowStart: w, WindowEnd: w.Add(spec.Window), Metrics: m})
		}
	}
	return out
}

func runLoad(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	base := fs.String("base", "http://127.0.0.1:18080", "server base URL (loopback only)")
	dayFlag := fs.String("day", "2026-11-20", "the batch day that fill published")
	nkeys := fs.Int("keys", 50, "keys to rotate over")
	requests := fs.Int("requests", 50000, "requests to send (measured)")
	warmup := fs.Int("warmup", 2000, "requests to send first, not measured")
	concurrency := fs.Int("concurrency", 32, "requests in flight at once")
	token := fs.String("token", "", "bearer token, if the server needs one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, *dayFlag)
	if err != nil || *requests < 1 || *concurrency < 1 || *nkeys < 1 {
		return fmt.Errorf("run: need --day=YYYY-MM-DD, --requests >= 1, --concurrency >= 1, --keys >= 1")
	}
	cutoff := day.Add(24 * time.Hour)
	targets := make([]string, *nkeys)
	for i := range targets {
		q := url.Values{"key": {keyName(i)}, "from": {cutoff.Add(-30 * time.Minute).Format(time.RFC3339)},
			"to": {cutoff.Add(30 * time.Minute).Format(time.RFC3339)}}
		targets[i] = *base + "/v1/views/page_views?" + q.Encode()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, DisableCompression: true}}
	l := &load{client: client, targets: targets, token: *token}
	if *warmup > 0 {
		l.drive(*warmup, *concurrency)
	}
	res := l.drive(*requests, *concurrency)
	fmt.Println(res)
	if res.errors > 0 {
		return fmt.Errorf("%d of %d requests failed; first: %v", res.errors, *requests, res.firstErr)
	}
	return nil
}

// load sends requests to targets in turn.
type load struct {
	client  *http.Client
	targets []string
	token   string
}

// result summarises one drive.
type result struct {
	requests, errors int
	firstErr         error
	elapsed          time.Duration
	latencies        []time.Duration // sorted
}

func (r result) String() string {
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	return fmt.Sprintf("requests %d, errors %d, %.0f req/s, p50 %s, p90 %s, p99 %s, max %s",
		r.requests, r.errors, float64(r.requests)/r.elapsed.Seconds(),
		pct(.50).Round(time.Microsecond), pct(.90).Round(time.Microsecond), pct(.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
}

// drive sends n requests with at most c in flight and measures each.
func (l *load) drive(n, c int) result {
	lat := make([]time.Duration, n)
	var next, errs atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := l.get(l.targets[i%len(l.targets)])
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return result{requests: n, errors: int(errs.Load()), firstErr: firstErr, elapsed: elapsed, latencies: lat}
}

func (l *load) get(target string) error {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", target, resp.StatusCode)
	}
	return nil
}
