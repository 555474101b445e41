package api

import (
	"slices"
	"strings"
	"time"

	"github.com/beamline/beamline/io/views"
)

// dayIndex is what one published batch run serves for one view and day, held in memory. A
// published run never changes, so the index stays right for as long as the run serves the day;
// it is keyed by the run, so a new publication simply stops using it.
//
// Rows are grouped by key (keys sorted) and ordered by window start within a key. cum holds
// prefix sums of the metrics over that order, so the sum of a key's metric over any range of
// windows is one subtraction, whatever the range.
type dayIndex struct {
	spec  views.Spec
	day   time.Time
	keys  []string // sorted
	off   []int32  // the rows of keys[i] are off[i] to off[i+1]
	start []int32  // window start, in seconds after day
	vals  []int64  // len(spec.Metrics) per row, in spec order
	cum   []int64  // (rows+1) * len(spec.Metrics): cum[i*nm+m] = sum of vals of metric m over rows before i
}

// rows returns the number of rows in x.
func (x *dayIndex) rows() int { return len(x.start) }

// newDayIndex builds the index of rows, the batch rows of spec for the day that starts at day.
func newDayIndex(spec views.Spec, day time.Time, rows []views.Row) *dayIndex {
	slices.SortFunc(rows, func(a, b views.Row) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.WindowStart.Compare(b.WindowStart)
	})
	nm := len(spec.Metrics)
	x := &dayIndex{spec: spec, day: day, start: make([]int32, len(rows)), vals: make([]int64, len(rows)*nm),
		cum: make([]int64, (len(rows)+1)*nm)}
	for i, r := range rows {
		if len(x.keys) == 0 || x.keys[len(x.keys)-1] != r.Key {
			x.keys = append(x.keys, r.Key)
			x.off = append(x.off, int32(i))
		}
		x.start[i] = int32(r.WindowStart.Sub(day) / time.Second)
		for m, mt := range spec.Metrics {
			v := r.Metrics[mt.Name]
			x.vals[i*nm+m] = v
			x.cum[(i+1)*nm+m] = x.cum[i*nm+m] + v
		}
	}
	x.off = append(x.off, int32(len(rows)))
	return x
}

// keyRange returns the rows [lo, hi) of key k (an index into keys) whose windows start in
// [from, to).
func (x *dayIndex) keyRange(k int, from, to time.Time) (lo, hi int) {
	a, b := int(x.off[k]), int(x.off[k+1])
	f, t := x.offset(from), x.offset(to)
	lo = a + sortSearch(b-a, func(i int) bool { return x.start[a+i] >= f })
	hi = lo + sortSearch(b-lo, func(i int) bool { return x.start[lo+i] >= t })
	return lo, hi
}

// offset returns t as seconds after the day, clamped to the int32 range of start.
func (x *dayIndex) offset(t time.Time) int32 {
	s := t.Sub(x.day) / time.Second
	return int32(max(min(s, 1<<31-1), -1<<31))
}

// keyRows returns how many rows of key have windows starting in [from, to).
func (x *dayIndex) keyRows(key string, from, to time.Time) int {
	k, ok := slices.BinarySearch(x.keys, key)
	if !ok {
		return 0
	}
	lo, hi := x.keyRange(k, from, to)
	return hi - lo
}

// appendRows appends the rows of key whose windows start in [from, to).
func (x *dayIndex) appendRows(out []views.Row, key string, from, to time.Time) []views.Row {
	k, ok := slices.BinarySearch(x.keys, key)
	if !ok {
		return out
	}
	lo, hi := x.keyRange(k, from, to)
	nm := len(x.spec.Metrics)
	for i := lo; i < hi; i++ {
		ws := x.day.Add(time.Duration(x.start[i]) * time.Second)
		m := make(map[string]int64, nm)
		for j, mt := range x.spec.Metrics {
			m[mt.Name] = x.vals[i*nm+j]
		}
		out = append(out, views.Row{View: x.spec.Name, Key: key, WindowStart: ws, WindowEnd: ws.Add(x.spec.Window),
			Metrics: m, Layer: views.Batch})
	}
	return out
}

// appendBuckets appends the buckets of key at granularity gran (coarser than the view's window,
// dividing a day) for the windows that start in [from, to): the sums of the additive metrics, as
// rollup makes them, each from two prefix sums.
func (x *dayIndex) appendBuckets(out []bucket, key string, gran time.Duration, from, to time.Time) []bucket {
	k, ok := slices.BinarySearch(x.keys, key)
	if !ok {
		return out
	}
	nm := len(x.spec.Metrics)
	for start := from.Truncate(gran); start.Before(to); start = start.Add(gran) {
		lo, hi := x.keyRange(k, maxTime(from, start), minTime(to, start.Add(gran)))
		if lo == hi {
			continue
		}
		m := make(map[string]int64, nm)
		for j, mt := range x.spec.Metrics {
			if mt.Additive {
				m[mt.Name] = x.cum[hi*nm+j] - x.cum[lo*nm+j]
			}
		}
		out = append(out, bucket{Start: start, End: start.Add(gran), Layer: views.Batch, Metrics: m})
	}
	return out
}

// eachSum calls fn with every key that has a window starting in [from, to), and the sum of
// metric m (an index into spec.Metrics) over those windows.
func (x *dayIndex) eachSum(m int, from, to time.Time, fn func(key string, sum int64)) {
	nm := len(x.spec.Metrics)
	for k, key := range x.keys {
		lo, hi := x.keyRange(k, from, to)
		if lo < hi {
			fn(key, x.cum[hi*nm+m]-x.cum[lo*nm+m])
		}
	}
}

// sortSearch is sort.Search without the closure allocation escaping (same contract).
func sortSearch(n int, f func(int) bool) int {
	i, j := 0, n
	for i < j {
		h := int(uint(i+j) >> 1)
		if !f(h) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}
