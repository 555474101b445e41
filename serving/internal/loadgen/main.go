// Command loadgen fills a view store with synthetic data and drives the serving API over HTTP, for
// scripts/bench-serving.sh.
//
// # Usage
//
//	loadgen fill --store=sqlite:///tmp/views.db --day=2026-11-20 [--days=1] [--keys=50] [--sparse_keys=0] [--speed_hours=2]
//	loadgen run --base=http://127.0.0.1:18080 --day=2026-11-20 [--query=hour] [--keys=50] [--requests=50000] [--concurrency=32]
//
// fill writes one batch run with full days of rows for every view, --days of them ending with
// --day, and publishes it (so the batch cutoff is the end of --day), then speed rows for the
// first --speed_hours of the next day. --sparse_keys adds that many more page_views keys on
// --day, each with a row in 10 of its minutes (a day of many keys, for top queries).
//
// run sends a fixed number of GET requests with bounded concurrency, rotating over --keys keys:
//
//	hour     page_views rows of one key for the hour that spans the cutoff, [cutoff-30m,
//	         cutoff+30m), so every answer merges both layers
//	day1h    one key for the day before the cutoff plus the first speed hour, at granularity 1h
//	week1d   one key for the 7 days before the cutoff, at granularity 1d (needs --days=7)
//	top      the top 10 page_views keys by views over --day
//
// It prints requests, errors, req/s and latency percentiles.
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
	"strings"
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
	days := fs.Int("days", 1, "batch days, ending with --day")
	nkeys := fs.Int("keys", 50, "page_views keys (URLs)")
	sparse := fs.Int("sparse_keys", 0, "more page_views keys on --day, with 10 rows each")
	speedHours := fs.Int("speed_hours", 2, "hours of speed rows after the batch day")
	if err := fs.Parse(args); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, *dayFlag)
	if err != nil || *storeURL == "" || *nkeys < 1 || *speedHours < 1 || *days < 1 || *sparse < 0 {
		return fmt.Errorf("fill: need --store, --day=YYYY-MM-DD, --days >= 1, --keys >= 1, --sparse_keys >= 0 and --speed_hours >= 1")
	}
	first := day.AddDate(0, 0, 1-*days)
	ctx := context.Background()
	st, err := store.Open(ctx, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	run := store.NewRunID(start)
	n := 0
	var pubDays []time.Time
	for d := first; !d.After(day); d = d.AddDate(0, 0, 1) {
		pubDays = append(pubDays, d)
	}
	for _, spec := range views.All() {
		for _, d := range pubDays {
			rows := synthRows(spec, *nkeys, d, d.Add(24*time.Hour))
			if err := st.WriteBatch(ctx, run, rows); err != nil {
				return fmt.Errorf("fill %s: %w", spec.Name, err)
			}
			n += len(rows)
		}
		speed := synthRows(spec, *nkeys, day.Add(24*time.Hour), day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour))
		if err := st.UpsertSpeed(ctx, speed); err != nil {
			return fmt.Errorf("fill %s speed: %w", spec.Name, err)
		}
		n += len(speed)
	}
	if *sparse > 0 {
		rows := sparseRows(*sparse, day)
		if err := st.WriteBatch(ctx, run, rows); err != nil {
			return fmt.Errorf("fill sparse keys: %w", err)
		}
		n += len(rows)
	}
	if err := st.Publish(ctx, run, pubDays); err != nil {
		return err
	}
	if err := st.SetSpeedWatermark(ctx, day.Add(24*time.Hour+time.Duration(*speedHours)*time.Hour)); err != nil {
		return err
	}
	fmt.Printf("filled %d rows (batch run %s for %d days to %s, %d sparse keys, %d speed hours) in %s\n",
		n, run, *days, *dayFlag, *sparse, *speedHours, time.Since(start).Round(time.Millisecond))
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

// sparseRows returns n page_views keys with a row in 10 minutes of day each (minutes spread by
// key), and views that vary by key so that the top list is well defined.
func sparseRows(n int, day time.Time) []views.Row {
	out := make([]views.Row, 0, 10*n)
	for i := range n {
		key := fmt.Sprintf("https://shop.example/s/%d", i)
		for j := range 10 {
			w := day.Add(time.Duration((i*37+j*131)%1440) * time.Minute)
			out = append(out, views.Row{View: views.PageViews, Key: key, WindowStart: w, WindowEnd: w.Add(time.Minute),
				Metrics: map[string]int64{views.MetricViews: int64(i%997 + j), views.MetricVisitors: 1}})
		}
	}
	return out
}

// targetURL returns the URL of request i of kind query.
func targetURL(base, query string, day time.Time, i int) (string, error) {
	cutoff := day.Add(24 * time.Hour)
	q := url.Values{"key": {keyName(i)}}
	path := "/v1/views/page_views?"
	switch query {
	case "hour":
		q.Set("from", cutoff.Add(-30*time.Minute).Format(time.RFC3339))
		q.Set("to", cutoff.Add(30*time.Minute).Format(time.RFC3339))
	case "day1h":
		q.Set("from", day.Format(time.RFC3339))
		q.Set("to", cutoff.Add(time.Hour).Format(time.RFC3339))
		q.Set("granularity", "1h")
	case "week1d":
		q.Set("from", cutoff.AddDate(0, 0, -7).Format(time.RFC3339))
		q.Set("to", cutoff.Format(time.RFC3339))
		q.Set("granularity", "1d")
	case "top":
		path = "/v1/views/page_views/top?"
		q = url.Values{"metric": {views.MetricViews}, "n": {"10"}, "from": {day.Format(time.RFC3339)}, "to": {cutoff.Format(time.RFC3339)}}
	default:
		return "", fmt.Errorf("unknown --query %q: want hour, day1h, week1d or top", query)
	}
	return base + path + q.Encode(), nil
}

func runLoad(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	base := fs.String("base", "http://127.0.0.1:18080", "server base URL (loopback only)")
	dayFlag := fs.String("day", "2026-11-20", "the batch day that fill published")
	query := fs.String("query", "hour", "what to ask: hour, day1h, week1d or top (see the package doc)")
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
	targets := make([]string, *nkeys)
	for i := range targets {
		if targets[i], err = targetURL(*base, *query, day, i); err != nil {
			return err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, DisableCompression: true}}
	l := &load{client: client, targets: targets, token: *token}
	if *warmup > 0 {
		l.drive(*warmup, *concurrency)
		if err := l.settle(*base); err != nil {
			return err
		}
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

// settle waits until the server holds the batch days that the warm-up asked for: until its
// metrics show no day being read into the batch index (a server without the index settles at
// once).
func (l *load) settle(base string) error {
	const gauge = "beamline_serving_batch_index_loading "
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		body, _, err := l.fetch(base+"/metrics", io.ReadAll)
		if err != nil {
			return fmt.Errorf("settle: %w", err)
		}
		_, after, found := strings.Cut(string(body), "\n"+gauge)
		if !found || strings.HasPrefix(after, "0\n") {
			return nil
		}
	}
	return fmt.Errorf("settle: the server was still reading days into its batch index after 2 minutes")
}

func (l *load) get(target string) error {
	_, code, err := l.fetch(target, func(r io.Reader) ([]byte, error) {
		_, err := io.Copy(io.Discard, r)
		return nil, err
	})
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET %s: status %d", target, code)
	}
	return err
}

// fetch GETs target (with the token) and returns what read makes of the body, and the status.
func (l *load) fetch(target string, read func(io.Reader) ([]byte, error)) ([]byte, int, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, err
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := read(resp.Body)
	return body, resp.StatusCode, err
}
