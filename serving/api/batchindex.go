package api

import (
	"container/list"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/beamline/beamline/io/store"
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

// indexKey names one day index.
type indexKey struct {
	view, run string
	day       time.Time
}

// batchIndex holds the day indexes of published runs, least recently used first out, within a
// budget of rows. A day is indexed in the background when a query first needs it; until then,
// and for a day of a view with more rows than the budget, queries read the store.
type batchIndex struct {
	srv     *Server
	budget  int
	timeout time.Duration // of one day's load

	mu      sync.Mutex
	lru     *list.List // of *indexEntry, most recently used at the front
	entries map[indexKey]*list.Element
	loading map[indexKey]bool
	failed  map[indexKey]time.Time // loads that failed: not tried again before the time
	tooBig  map[indexKey]bool
	rows    int
	loads   sync.WaitGroup
}

type indexEntry struct {
	key indexKey
	ix  *dayIndex
}

// Index loads: how long one may take, how long after a failed one the day is tried again, and
// how many run at once (a load holds a whole day's rows as the store returns them until the
// index is built: a 31-day query must not read 31 days into memory at once; the days beyond
// these are loaded by later queries).
const (
	indexLoadTimeout = time.Minute
	indexRetryAfter  = time.Minute
	maxIndexLoads    = 2
)

// newBatchIndex returns an index of at most budget rows, or nil (no index) when budget is not
// positive.
func newBatchIndex(srv *Server, budget int) *batchIndex {
	if budget <= 0 {
		return nil
	}
	return &batchIndex{srv: srv, budget: budget, timeout: indexLoadTimeout, lru: list.New(),
		entries: map[indexKey]*list.Element{}, loading: map[indexKey]bool{}, failed: map[indexKey]time.Time{}, tooBig: map[indexKey]bool{}}
}

// get returns the index of view for day as served by run, and false when it does not hold it:
// then it starts loading it in the background (unless the day is too big for the budget, or
// its last load failed a moment ago), and the caller reads the store for the day.
func (b *batchIndex) get(spec views.Spec, day time.Time, run string) (*dayIndex, bool) {
	if b == nil {
		return nil, false
	}
	k := indexKey{view: spec.Name, run: run, day: day}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[k]; ok {
		b.lru.MoveToFront(e)
		b.srv.metrics.batchIndex.WithLabelValues("hit").Inc()
		return e.Value.(*indexEntry).ix, true
	}
	switch {
	case b.tooBig[k]:
		b.srv.metrics.batchIndex.WithLabelValues("too_big").Inc()
	case b.loading[k] || b.srv.now().Before(b.failed[k]) || len(b.loading) >= maxIndexLoads:
		b.srv.metrics.batchIndex.WithLabelValues("miss").Inc()
	default:
		b.srv.metrics.batchIndex.WithLabelValues("load").Inc()
		b.loading[k] = true
		b.srv.metrics.batchIndexLoading.Inc()
		b.loads.Go(func() { b.load(spec, k) })
	}
	return nil, false
}

// load reads the rows of k from the store and holds their index if they fit the budget.
func (b *batchIndex) load(spec views.Spec, k indexKey) {
	ix, err := b.read(spec, k)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.loading, k)
	b.srv.metrics.batchIndexLoading.Dec()
	b.forgetOtherRuns(k)
	switch {
	case errors.Is(err, errTooBig):
		b.tooBig[k] = true
		return
	case err != nil:
		b.failed[k] = b.srv.now().Add(indexRetryAfter)
		b.srv.log.Warn("batch index: loading a day failed; its queries read the store", "view", k.view,
			"day", k.day.Format(time.DateOnly), "run", k.run, "retry_in", indexRetryAfter, "err", err)
		return
	case ix == nil: // published again meanwhile: the next query asks for the new run
		return
	}
	delete(b.failed, k)
	if _, ok := b.entries[k]; !ok {
		b.entries[k] = b.lru.PushFront(&indexEntry{key: k, ix: ix})
		b.rows += ix.rows()
	}
	for b.rows > b.budget {
		e := b.lru.Back()
		old := e.Value.(*indexEntry)
		b.lru.Remove(e)
		delete(b.entries, old.key)
		b.rows -= old.ix.rows()
	}
	b.srv.metrics.batchIndexRows.Set(float64(b.rows))
}

// forgetOtherRuns drops what the index noted (too big, failed) about k's view and day as
// served by other runs: a day only moves to later runs, and k's is the one a query asked for,
// so the others are not asked for again. Without it these notes grew with every publication.
func (b *batchIndex) forgetOtherRuns(k indexKey) {
	other := func(o indexKey) bool { return o.view == k.view && o.day.Equal(k.day) && o.run != k.run }
	for o := range b.tooBig {
		if other(o) {
			delete(b.tooBig, o)
		}
	}
	for o := range b.failed {
		if other(o) {
			delete(b.failed, o)
		}
	}
}

// errTooBig says that a day has more rows than the index's budget.
var errTooBig = errors.New("the day has more rows than the batch index holds")

// read reads the rows of k from the store and builds their index. It returns nil when the day
// was published to another run while it was read.
func (b *batchIndex) read(spec views.Spec, k indexKey) (*dayIndex, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	start := time.Now()
	rows, err := b.srv.st.Query(ctx, store.Query{View: spec.Name, Layer: views.Batch, From: k.day, To: k.day.Add(day)})
	b.srv.metrics.observeStore("index_load", start, err, errors.Is(ctx.Err(), context.DeadlineExceeded))
	if err != nil {
		return nil, err
	}
	// The query read whichever run served the day then; it was k.run if k.run still serves the
	// day now, since a day only ever moves to a later run (store.ErrSuperseded).
	pubs, err := b.srv.st.Publications(ctx)
	if err != nil {
		return nil, err
	}
	if publishedRun(pubs, k.day) != k.run {
		return nil, nil
	}
	if len(rows) > b.budget {
		return nil, errTooBig
	}
	return newDayIndex(spec, k.day, rows), nil
}

// wait waits for the loads in progress (tests).
func (b *batchIndex) wait() {
	if b != nil {
		b.loads.Wait()
	}
}

// publishedRun returns the run that pubs publish for day, or "".
func publishedRun(pubs []store.Publication, day time.Time) string {
	for _, p := range pubs {
		if p.Day.Equal(day) {
			return p.Run
		}
	}
	return ""
}
