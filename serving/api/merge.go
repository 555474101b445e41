package api

import (
	"container/heap"
	"slices"
	"strings"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

const day = 24 * time.Hour

// Cutoff returns the batch cutoff of pubs: the end of the last day of the run of consecutive
// published days that starts at the oldest published day. ok is false when no day is published,
// and then every window comes from the speed layer.
//
// A published day after a gap does not move the cutoff: with days 1, 2 and 4 published the cutoff
// is the end of day 2, so day 3 (and day 4) are answered by the speed layer instead of missing.
// Once day 3 is published the cutoff jumps to the end of day 4.
func Cutoff(pubs []store.Publication) (cutoff time.Time, ok bool) {
	days := publishedDays(pubs)
	if len(days) == 0 {
		return time.Time{}, false
	}
	end := days[0].Add(day)
	for _, d := range days[1:] {
		if !d.Equal(end) {
			break
		}
		end = end.Add(day)
	}
	return end, true
}

// gaps returns the unpublished days between the oldest and the newest published day, at most max.
func gaps(pubs []store.Publication, max int) []time.Time {
	days := publishedDays(pubs)
	var out []time.Time
	for i := 1; i < len(days) && len(out) < max; i++ {
		for d := days[i-1].Add(day); d.Before(days[i]) && len(out) < max; d = d.Add(day) {
			out = append(out, d)
		}
	}
	return out
}

// publishedDays returns the distinct days of pubs as midnight UTC, sorted.
func publishedDays(pubs []store.Publication) []time.Time {
	days := make([]time.Time, 0, len(pubs))
	for _, p := range pubs {
		days = append(days, views.Day(p.Day))
	}
	slices.SortFunc(days, time.Time.Compare)
	return slices.CompactFunc(days, time.Time.Equal)
}

// span is a half-open time range [From, To); it is empty when From is not before To.
type span struct {
	From, To time.Time
}

func (s span) empty() bool { return !s.From.Before(s.To) }

// split divides [from, to) at cutoff into the part that the batch layer answers (windows starting
// before cutoff) and the part that the speed layer answers (windows starting at or after it).
// A zero cutoff (nothing published) gives everything to the speed layer.
func split(from, to, cutoff time.Time) (batch, speed span) {
	batch = span{from, minTime(to, cutoff)}
	speed = span{maxTime(from, cutoff), to}
	return batch, speed
}

// layerOf says which layer answers the window that starts at start.
func layerOf(start, cutoff time.Time) views.Layer {
	if start.Before(cutoff) {
		return views.Batch
	}
	return views.Speed
}

// merge applies the merge rule to rows read from both layers: it keeps batch rows of windows
// that start in [from, to) before cutoff and speed rows of windows that start in [from, to) at or
// after cutoff, and returns them ordered by window start, then key. Rows of the wrong layer for
// their window (a speed row older than the cutoff, say) are dropped, never added in.
func merge(batch, speed []views.Row, from, to, cutoff time.Time) []views.Row {
	out := make([]views.Row, 0, len(batch)+len(speed))
	keep := func(rows []views.Row, layer views.Layer) {
		for _, r := range rows {
			if r.WindowStart.Before(from) || !r.WindowStart.Before(to) || layerOf(r.WindowStart, cutoff) != layer {
				continue
			}
			r.Layer = layer
			out = append(out, r)
		}
	}
	keep(batch, views.Batch)
	keep(speed, views.Speed)
	if !slices.IsSortedFunc(out, compareRows) {
		slices.SortStableFunc(out, compareRows)
	}
	return out
}

func compareRows(a, b views.Row) int {
	if c := a.WindowStart.Compare(b.WindowStart); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

// bucket is one window of a response: a view window at native granularity, or the sum of the
// view windows of one key that start in [Start, End) at a coarser one.
type bucket struct {
	Start, End time.Time
	Layer      views.Layer
	Metrics    map[string]int64
}

// rollup turns the merged rows of one key into buckets of length gran. At the view's native
// granularity every metric is kept; at a coarser one only additive metrics are summed and the
// others (distinct counts) are left out, since summing them would be wrong. The cutoff is a
// midnight and gran divides a day, so the windows of one bucket all come from one layer.
func rollup(rows []views.Row, spec views.Spec, gran time.Duration, cutoff time.Time) []bucket {
	native := gran == spec.Window
	var out []bucket
	if native {
		out = make([]bucket, 0, len(rows))
	}
	for _, r := range rows {
		start := r.WindowStart.Truncate(gran)
		if native { // one row per window: its metrics are the bucket's (rows are not written to)
			out = append(out, bucket{Start: start, End: start.Add(gran), Layer: layerOf(start, cutoff), Metrics: r.Metrics})
			continue
		}
		if len(out) == 0 || !out[len(out)-1].Start.Equal(start) {
			out = append(out, bucket{Start: start, End: start.Add(gran), Layer: layerOf(start, cutoff),
				Metrics: make(map[string]int64, len(spec.Metrics))})
		}
		b := out[len(out)-1]
		for _, m := range spec.Metrics {
			if native || m.Additive {
				b.Metrics[m.Name] += r.Metrics[m.Name]
			}
		}
	}
	return out
}

// totals sums the additive metrics of buckets.
func totals(buckets []bucket, spec views.Spec) map[string]int64 {
	out := make(map[string]int64, len(spec.Metrics))
	for _, m := range spec.Metrics {
		if m.Additive {
			out[m.Name] = 0
		}
	}
	for _, b := range buckets {
		for name := range out {
			out[name] += b.Metrics[name]
		}
	}
	return out
}

// keyValue is one entry of a top list.
type keyValue struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// addSums adds metric of each row to the sum of its key.
func addSums(sums map[string]int64, rows []views.Row, metric string) {
	for _, r := range rows {
		sums[r.Key] += r.Metrics[metric]
	}
}

// topOf returns the n keys of sums with the largest sums, largest first; ties go to the smaller
// key. It keeps only n candidates at a time (a heap whose root is the worst of them), so a day of
// many keys is not sorted whole.
func topOf(sums map[string]int64, n int) []keyValue {
	var h topHeap
	for k, v := range sums {
		h.offer(keyValue{k, v}, n)
	}
	return h.sorted()
}

// topHeap holds the best n keyValues seen so far, the worst at h[0].
type topHeap []keyValue

// better says whether a ranks before b: a larger value, or the same value and a smaller key.
func better(a, b keyValue) bool {
	if a.Value != b.Value {
		return a.Value > b.Value
	}
	return a.Key < b.Key
}

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(keyValue)) }
func (h *topHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// offer keeps kv if it is among the best n seen so far.
func (h *topHeap) offer(kv keyValue, n int) {
	switch {
	case n <= 0:
	case len(*h) < n:
		heap.Push(h, kv)
	case better(kv, (*h)[0]):
		(*h)[0] = kv
		heap.Fix(h, 0)
	}
}

// sorted returns the kept keyValues, best first.
func (h topHeap) sorted() []keyValue {
	out := slices.Clone([]keyValue(h))
	slices.SortFunc(out, func(a, b keyValue) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	if out == nil {
		out = []keyValue{}
	}
	return out
}

// keys returns the distinct keys of rows, sorted.
func keys(rows []views.Row) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Key)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
