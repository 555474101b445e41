package api

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
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

// model answers queries from the true rows directly, independently of the merge code.
type model struct {
	truth     []views.Row
	published bool
	cutoff    time.Time
}

// randomQuery returns a random request and the JSON answer (without freshness) it must get.
func (m model) randomQuery(rng *rand.Rand) (string, map[string]any) {
	specs := views.All()
	spec := specs[rng.IntN(len(specs))]
	var grans []time.Duration
	for _, g := range []time.Duration{time.Minute, time.Hour, day} {
		if g >= spec.Window {
			grans = append(grans, g)
		}
	}
	gran := grans[rng.IntN(len(grans))]
	from, to := m.randomRange(rng, gran)
	switch rng.IntN(4) {
	case 0:
		return m.topQuery(rng, spec, from, to)
	case 1:
		return m.keysQuery(spec, from, to)
	}
	return m.rowsQuery(rng, spec, gran, from, to)
}

// randomRange returns an aligned range around the data, often with an end at or near the cutoff.
func (m model) randomRange(rng *rand.Rand, gran time.Duration) (from, to time.Time) {
	lo, hi := day0.Add(-day), day0.AddDate(0, 0, propDays+1)
	steps := int(hi.Sub(lo) / gran)
	pick := func() time.Time {
		if m.published && rng.IntN(3) == 0 {
			return m.cutoff.Add(time.Duration(rng.IntN(5)-2) * gran)
		}
		return lo.Add(time.Duration(rng.IntN(steps+1)) * gran)
	}
	for {
		from, to = pick(), pick()
		if from.After(to) {
			from, to = to, from
		}
		if from.Before(to) {
			return from, to
		}
	}
}

func (m model) inRange(spec views.Spec, key string, from, to time.Time) []views.Row {
	var out []views.Row
	for _, r := range m.truth {
		if r.View == spec.Name && (key == "" || r.Key == key) && !r.WindowStart.Before(from) && r.WindowStart.Before(to) {
			out = append(out, r)
		}
	}
	return out
}

func (m model) cutoffJSON() any {
	if !m.published {
		return nil
	}
	return rfc(m.cutoff)
}

func (m model) layersJSON(from, to time.Time) []any {
	out := []any{}
	if m.published && from.Before(m.cutoff) {
		out = append(out, map[string]any{"layer": "batch", "from": rfc(from), "to": rfc(minTime(to, m.cutoff))})
	}
	if !m.published || to.After(m.cutoff) {
		f := from
		if m.published {
			f = maxTime(from, m.cutoff)
		}
		out = append(out, map[string]any{"layer": "speed", "from": rfc(f), "to": rfc(to)})
	}
	return out
}

func (m model) rowsQuery(rng *rand.Rand, spec views.Spec, gran time.Duration, from, to time.Time) (string, map[string]any) {
	var ks []string
	for _, r := range m.truth {
		if r.View == spec.Name {
			ks = append(ks, r.Key)
		}
	}
	key := "nope"
	if len(ks) > 0 && rng.IntN(8) > 0 {
		key = ks[rng.IntN(len(ks))]
	}
	native := gran == spec.Window
	type agg struct {
		start time.Time
		m     map[string]int64
	}
	var buckets []*agg
	tot := map[string]any{}
	for _, mt := range spec.Metrics {
		if mt.Additive {
			tot[mt.Name] = 0.0
		}
	}
	for _, r := range m.inRange(spec, key, from, to) {
		start := r.WindowStart.Truncate(gran)
		i := slices.IndexFunc(buckets, func(a *agg) bool { return a.start.Equal(start) })
		if i < 0 {
			buckets = append(buckets, &agg{start, map[string]int64{}})
			i = len(buckets) - 1
		}
		for _, mt := range spec.Metrics {
			if native || mt.Additive {
				buckets[i].m[mt.Name] += r.Metrics[mt.Name]
			}
			if mt.Additive {
				tot[mt.Name] = tot[mt.Name].(float64) + float64(r.Metrics[mt.Name])
			}
		}
	}
	slices.SortFunc(buckets, func(a, b *agg) int { return a.start.Compare(b.start) })
	rows := []any{}
	for _, b := range buckets {
		layer := "speed"
		if m.published && b.start.Before(m.cutoff) {
			layer = "batch"
		}
		metrics := map[string]any{}
		for k, v := range b.m {
			metrics[k] = float64(v)
		}
		rows = append(rows, map[string]any{"window_start": rfc(b.start), "window_end": rfc(b.start.Add(gran)), "layer": layer, "metrics": metrics})
	}
	want := map[string]any{
		"view": spec.Name, "key": key, "from": rfc(from), "to": rfc(to), "granularity": granName(gran),
		"batch_cutoff": m.cutoffJSON(), "layers": m.layersJSON(from, to), "rows": rows, "totals": tot,
	}
	if !native && spec.Name == views.PageViews {
		want["omitted_metrics"] = []any{"visitors"}
		want["note"] = "visitors: distinct counts cannot be summed across windows, so they are served only at granularity 1m"
	}
	q := url.Values{"key": {key}, "from": {rfc(from)}, "to": {rfc(to)}}
	if !native || rng.IntN(2) == 0 {
		q.Set("granularity", granName(gran))
	}
	return "/v1/views/" + spec.Name + "?" + q.Encode(), want
}

func (m model) topQuery(rng *rand.Rand, spec views.Spec, from, to time.Time) (string, map[string]any) {
	var additive []string
	for _, mt := range spec.Metrics {
		if mt.Additive {
			additive = append(additive, mt.Name)
		}
	}
	metric := additive[rng.IntN(len(additive))]
	n := 1 + rng.IntN(5)
	sums := map[string]int64{}
	for _, r := range m.inRange(spec, "", from, to) {
		sums[r.Key] += r.Metrics[metric]
	}
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range sums {
		all = append(all, kv{k, v})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if a.v != b.v {
			return int(b.v - a.v)
		}
		return strings.Compare(a.k, b.k)
	})
	topList := []any{}
	for _, e := range all[:min(n, len(all))] {
		topList = append(topList, map[string]any{"key": e.k, "value": float64(e.v)})
	}
	want := map[string]any{"view": spec.Name, "metric": metric, "from": rfc(from), "to": rfc(to), "n": float64(n),
		"batch_cutoff": m.cutoffJSON(), "layers": m.layersJSON(from, to), "top": topList}
	q := url.Values{"metric": {metric}, "n": {fmt.Sprint(n)}, "from": {rfc(from)}, "to": {rfc(to)}}
	return "/v1/views/" + spec.Name + "/top?" + q.Encode(), want
}

func (m model) keysQuery(spec views.Spec, from, to time.Time) (string, map[string]any) {
	var ks []string
	for _, r := range m.inRange(spec, "", from, to) {
		if !slices.Contains(ks, r.Key) {
			ks = append(ks, r.Key)
		}
	}
	slices.Sort(ks)
	keysJSON := []any{}
	for _, k := range ks {
		keysJSON = append(keysJSON, k)
	}
	want := map[string]any{"view": spec.Name, "from": rfc(from), "to": rfc(to),
		"batch_cutoff": m.cutoffJSON(), "layers": m.layersJSON(from, to), "keys": keysJSON}
	q := url.Values{"from": {rfc(from)}, "to": {rfc(to)}}
	return "/v1/views/" + spec.Name + "/keys?" + q.Encode(), want
}
