package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/io/views"
)

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
