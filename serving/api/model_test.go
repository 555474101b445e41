package api

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beamline/beamline/io/views"
)

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
