package api

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

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
