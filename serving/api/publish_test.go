package api

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beamline/beamline/io/views"
)

// TestPublishSwitchesAtomically publishes batch runs while queries run concurrently. Run k
// serves days [0, min(k, days)) with every window worth k views; the speed layer holds every day
// at 1000 views a window. Each publication moves the cutoff or changes every batch value, so an
// answer that mixed two publication states (the cutoff of one with the batch rows of another, or
// the rows of two runs) would have a total that no single state gives.
func TestPublishSwitchesAtomically(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"state read per request, no cache", Options{StateRefresh: -1, CacheEntries: -1}},
		{"stale state, no cache", Options{StateRefresh: 20 * time.Millisecond, CacheEntries: -1}},
		{"stale state, cache", Options{StateRefresh: 20 * time.Millisecond, CacheTTL: time.Hour}},
		{"state read per request, no cache, no batch index", Options{StateRefresh: -1, CacheEntries: -1, BatchIndexRows: -1}},
		{"stale state, no cache, no batch index", Options{StateRefresh: 20 * time.Millisecond, CacheEntries: -1, BatchIndexRows: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) { testPublishSwitch(t, tt.opts) })
	}
}

func testPublishSwitch(t *testing.T, opts Options) {
	const (
		days    = 4
		windows = 3 // windows a day
		runs    = 12
	)
	st := openStore(t)
	// The server's clock moves by hand: half a state refresh at each publication (so the
	// stale-state variants serve some publications late, as in production), and past a whole
	// refresh before the last check, whatever the machine's speed.
	clock := newClock(day0.AddDate(0, 0, days+1))
	opts.Now = clock.now
	srv := newTestServer(t, st, &opts)
	rowsOf := func(d int, v int64) []views.Row {
		var out []views.Row
		for w := range windows {
			out = append(out, row(views.PageViews, "u", day0.AddDate(0, 0, d).Add(time.Duration(w)*time.Hour), pv(v, 1)))
		}
		return out
	}
	for d := range days {
		upsertSpeed(t, st, rowsOf(d, 1000)...)
	}
	valid := map[int64]string{days * windows * 1000: "nothing published"}
	for k := 1; k <= runs; k++ {
		c := int64(min(k, days))
		valid[c*windows*int64(k)+(days-c)*windows*1000] = fmt.Sprintf("run %d", k)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var served atomic.Int64
	errs := make(chan string, 8)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				rec := serveGET(srv, "/v1/views/page_views?key=u&from="+rfc(day0)+"&to="+rfc(day0.AddDate(0, 0, days)))
				var resp rowsResponse
				if rec.Code != 200 {
					errs <- fmt.Sprintf("status %d: %s", rec.Code, rec.Body)
					return
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
					errs <- fmt.Sprintf("decode %s: %v", rec.Body, err)
					return
				}
				if _, ok := valid[resp.Totals["views"]]; !ok {
					errs <- fmt.Sprintf("total %d (cutoff %v) matches no publication state", resp.Totals["views"], *resp.BatchCutoff)
					return
				}
				served.Add(1)
			}
		})
	}
	for k := 1; k <= runs; k++ {
		run := fmt.Sprintf("run-%02d", k)
		var pubDays []time.Time
		for d := range min(k, days) {
			writeBatch(t, st, run, rowsOf(d, int64(k))...)
			pubDays = append(pubDays, day0.AddDate(0, 0, d))
		}
		publish(t, st, run, pubDays...)
		clock.set(clock.now().Add(max(opts.StateRefresh, 0) / 2))
		time.Sleep(5 * time.Millisecond) // pacing only: lets the readers query between publications
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	clock.set(clock.now().Add(max(opts.StateRefresh, 0) + time.Millisecond)) // past the state refresh
	if final, _ := viewsTotal(t, srv, day0, day0.AddDate(0, 0, days)); valid[final] != fmt.Sprintf("run %d", runs) {
		t.Errorf("after the last publish: total %d is %q, want run %d", final, valid[final], runs)
	}
	t.Logf("%d answers checked, %d recomputed after a publish race", served.Load(), int(publishRaces(srv)))
}

// publishRaces returns how many answers srv recomputed because of a publish race.
func publishRaces(srv *Server) float64 {
	m, err := srv.metrics.reg.Gather()
	if err != nil {
		return -1
	}
	for _, f := range m {
		if f.GetName() == "beamline_serving_publish_races_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}
