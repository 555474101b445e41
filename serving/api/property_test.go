package api

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

var (
	propSeed  = flag.Uint64("prop_seed", 0, "seed of TestMergeMatchesReference; 0: derived from the time")
	propIters = flag.Int("prop_iters", 40, "iterations of TestMergeMatchesReference")
)

const propDays = 3

var propCategories = map[string]string{"https://shop.example/": "shop", "https://shop.example/p/1": "p1", "https://blog.example/": "blog"}

// TestMergeMatchesReference is the merge rule's property test. Each iteration makes random events,
// computes the true view rows with package reference, and fills a store as the two layers would:
// batch runs publish the true rows of the days before a random cutoff day, the speed layer holds the
// true rows from the cutoff on, and decoys that must never be served are added: wrong speed rows
// before the cutoff, a wrong run published after a gap, and a wrong run never published. Then random
// queries through the HTTP handler (each twice, the second from the cache) must equal sums computed
// directly from the true rows: no window counted twice, none missing, at the boundary too.
func TestMergeMatchesReference(t *testing.T) {
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -prop_seed=%d)", seed, seed)
	for i := range *propIters {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		truth := reference.Compute(reference.Config{
			From: day0, To: day0.AddDate(0, 0, propDays-1), Categories: propCategories, BotPatterns: reference.DefaultBotPatterns,
		}, randomEvents(rng)).Rows
		cutDays := rng.IntN(propDays + 1) // 0: nothing published
		st := openStore(t)
		fillLayers(t, rng, st, truth, cutDays)
		// The same answers with the batch index, without it, and with an index too small to hold
		// most days (so that some days of a query come from the index and others from the store).
		servers := map[string]*Server{
			"index":       newTestServer(t, st, &Options{StateRefresh: -1, MaxRange: 10 * day}),
			"no index":    newTestServer(t, st, &Options{StateRefresh: -1, MaxRange: 10 * day, BatchIndexRows: -1}),
			"small index": newTestServer(t, st, &Options{StateRefresh: -1, MaxRange: 10 * day, BatchIndexRows: 40}),
		}
		m := model{truth: truth, published: cutDays > 0, cutoff: day0.AddDate(0, 0, cutDays)}
		for q := range 30 {
			target, want := m.randomQuery(rng)
			for name, srv := range servers {
				for pass := range 2 {
					srv.index.wait() // pass 1 reads the days that pass 0 started to index
					rec := serveGET(srv, target)
					var got map[string]any
					if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
						t.Fatalf("iteration %d query %d: GET %s = %d %s", i, q, target, rec.Code, rec.Body)
					}
					delete(got, "freshness")
					if diff := cmp.Diff(want, got); diff != "" {
						t.Fatalf("iteration %d (cutoff day %d) query %d pass %d, %s: GET %s (-reference +served):\n%s", i, cutDays, q, pass, name, target, diff)
					}
				}
			}
		}
		if hits := counter(t, servers["index"], "beamline_serving_batch_index_lookups_total", "result", "hit"); cutDays > 0 && hits == 0 {
			t.Errorf("iteration %d: the batch index answered no query", i)
		}
	}
}

// randomEvents returns a few hundred event lines over propDays days, bunched so that windows and
// sessions hold several events and some cross midnight, with duplicates, bots and garbage.
func randomEvents(rng *rand.Rand) []reference.Record {
	urls := []string{"https://shop.example/p/1", "https://shop.example/p/2", "https://shop.example/", "https://blog.example/a", "https://else.example/"}
	countries := []string{"de", "FR", "", "US"}
	types := []string{"pageview", "pageview", "click", "post"}
	var recs []reference.Record
	n := 100 + rng.IntN(300)
	var center time.Time
	for i := range n {
		if i%20 == 0 { // a new burst: near midnight half of the time
			d := day0.AddDate(0, 0, rng.IntN(propDays))
			if rng.IntN(2) == 0 {
				center = d.Add(-30*time.Minute + time.Duration(rng.IntN(60))*time.Minute)
			} else {
				center = d.Add(time.Duration(rng.IntN(24*60)) * time.Minute)
			}
		}
		ts := center.Add(time.Duration(rng.IntN(90*60*1000)-45*60*1000) * time.Millisecond)
		typ := types[rng.IntN(len(types))]
		ev := map[string]string{
			"event_id": fmt.Sprintf("e-%d", rng.IntN(n*2)), "type": typ, "user_id": fmt.Sprintf("u-%d", rng.IntN(8)),
			"country": countries[rng.IntN(len(countries))], "user_agent": "Mozilla/5.0", "ts": ts.Format(time.RFC3339Nano),
		}
		if typ != "post" || rng.IntN(2) == 0 {
			ev["url"] = urls[rng.IntN(len(urls))]
		}
		if rng.IntN(20) == 0 {
			ev["user_agent"] = "GoogleBot/2.1"
		}
		raw, _ := json.Marshal(ev)
		if rng.IntN(30) == 0 {
			raw = raw[:len(raw)/2]
		}
		recs = append(recs, reference.Record{Raw: raw, Source: fmt.Sprintf("gen:%d", i)})
	}
	return recs
}

// fillLayers writes truth into st as the layers would, with the cutoff cutDays days after day0,
// plus decoys that the merge rule must never serve.
func fillLayers(t *testing.T, rng *rand.Rand, st *store.Store, truth []views.Row, cutDays int) {
	t.Helper()
	cutoff := day0.AddDate(0, 0, cutDays)
	dayOf := func(r views.Row) int { return int(views.Day(r.WindowStart).Sub(day0) / day) }
	// Batch: days [0, cutDays) in one or two runs, published in random order.
	var runs [][]int
	if cutDays > 0 {
		split := 1 + rng.IntN(cutDays)
		runs = append(runs, seq(0, split))
		if split < cutDays {
			runs = append(runs, seq(split, cutDays))
		}
	}
	rng.Shuffle(len(runs), func(i, j int) { runs[i], runs[j] = runs[j], runs[i] })
	for i, days := range runs {
		run := fmt.Sprintf("run-%d", i)
		var rows []views.Row
		for _, r := range truth {
			if slices.Contains(days, dayOf(r)) {
				rows = append(rows, r)
			}
		}
		writeBatch(t, st, run, rows...)
		var pubDays []time.Time
		for _, d := range days {
			pubDays = append(pubDays, day0.AddDate(0, 0, d))
		}
		publish(t, st, run, pubDays...)
	}
	// Decoys: a run of wrong rows for every day that is never published, and (after a gap) a wrong
	// run published for a day after the cutoff day.
	var wrongAll []views.Row
	for _, r := range truth {
		wrongAll = append(wrongAll, wrong(r))
	}
	writeBatch(t, st, "run-unpublished", wrongAll...)
	if gapDay := cutDays + 1; cutDays > 0 && gapDay < propDays && rng.IntN(2) == 0 {
		var rows []views.Row
		for _, r := range truth {
			if dayOf(r) == gapDay {
				rows = append(rows, wrong(r))
			}
		}
		writeBatch(t, st, "run-after-gap", rows...)
		publish(t, st, "run-after-gap", day0.AddDate(0, 0, gapDay))
	}
	// Speed: the true rows from the cutoff on, and wrong ones (some with keys of their own) before.
	var speed []views.Row
	for _, r := range truth {
		switch {
		case !r.WindowStart.Before(cutoff) || cutDays == 0:
			speed = append(speed, r)
		case rng.IntN(2) == 0:
			speed = append(speed, wrong(r))
		default:
			g := wrong(r)
			g.Key = "ghost-" + g.Key
			speed = append(speed, g)
		}
	}
	upsertSpeed(t, st, speed...)
}

// wrong returns r with every metric off by 1000.
func wrong(r views.Row) views.Row {
	m := make(map[string]int64, len(r.Metrics))
	for k, v := range r.Metrics {
		m[k] = v + 1000
	}
	r.Metrics = m
	return r
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
