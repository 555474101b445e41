package api

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
)

// TestShedsExpensiveQueries sends 300 different 31-day top queries at once (no response cache)
// while 1-hour queries of one key keep coming: every top query is answered 200 or shed at once
// with 503 and Retry-After (never 504, never a timeout), some are answered, and no cheap query
// is held back or shed.
func TestShedsExpensiveQueries(t *testing.T) {
	st := openStore(t)
	var rows []views.Row
	for k := range 3000 {
		for m := range 10 {
			rows = append(rows, row(views.PageViews, fmt.Sprintf("https://s/%d", k), day0.Add(time.Duration(m)*time.Minute), pv(int64(k%7+1), 1)))
		}
	}
	writeBatch(t, st, "run-a", rows...)
	publish(t, st, "run-a", day0)
	srv := newTestServer(t, st, &Options{CacheEntries: -1, StateRefresh: -1, StoreTimeout: 2 * time.Second})

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		codes     = map[int]int{}
		noRetry   int
		cheapBad  int
		cheapTook []time.Duration
	)
	stop := make(chan struct{})
	go func() { // the cheap queries, one after the other, for as long as the top queries run
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			rec := serveGET(srv, "/v1/views/page_views?key=https://s/1&from="+rfc(day0)+"&to="+rfc(day0.Add(time.Hour)))
			mu.Lock()
			cheapTook = append(cheapTook, time.Since(start))
			if rec.Code != http.StatusOK {
				cheapBad++
			}
			mu.Unlock()
		}
	}()
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := day0.Add(-30*24*time.Hour + time.Duration(i)*time.Minute) // 300 different queries
			rec := serveGET(srv, "/v1/views/page_views/top?metric=views&n=10&from="+rfc(from)+"&to="+rfc(from.Add(31*24*time.Hour)))
			mu.Lock()
			defer mu.Unlock()
			codes[rec.Code]++
			if rec.Code == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				noRetry++
			}
		}()
	}
	wg.Wait()
	close(stop)
	mu.Lock()
	defer mu.Unlock()
	if codes[http.StatusOK] == 0 || codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 300 || noRetry > 0 {
		t.Errorf("300 concurrent 31-day top queries answered %v (%d 503s without Retry-After); want only 200s and 503s with Retry-After, some 200s", codes, noRetry)
	}
	if cheapBad > 0 || len(cheapTook) == 0 {
		t.Errorf("%d of %d cheap queries failed while the top queries ran; want none", cheapBad, len(cheapTook))
	}
	slices.Sort(cheapTook)
	p99 := cheapTook[len(cheapTook)*99/100]
	t.Logf("top queries: %v; %d cheap queries meanwhile, p50 %s, p99 %s", codes, len(cheapTook),
		cheapTook[len(cheapTook)/2], p99)
	// scripts/chaos.sh reads this line.
	t.Logf("CHAOS job=serving fault=%q answers=%d ok=%d shed=%d timeouts=%d cheap_p99=%s", "300 concurrent 31-day top queries",
		300+len(cheapTook), codes[http.StatusOK], codes[http.StatusServiceUnavailable], codes[http.StatusGatewayTimeout], p99)
}
