package api

import (
	"context"
	"slices"
	"time"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// layers is what one query read: the batch days that the batch index answers (parts), and the
// merged rows read from the store (the batch days the index does not hold, and the speed layer).
type layers struct {
	spec  views.Spec
	parts []indexPart
	rows  []views.Row
	// batchRead says whether the store's batch layer was read (so the answer must be checked
	// against the publications afterwards); the index is consistent with the state by its key.
	batchRead bool
}

// indexPart is the part [from, to) of one published day answered from its index.
type indexPart struct {
	ix       *dayIndex
	from, to time.Time
}

// read returns the layers of spec (one key, or every key when key is empty) for windows starting
// in [from, to), each layer read only for its side of the cutoff of st.
func (s *Server) read(ctx context.Context, st *state, spec views.Spec, key string, from, to time.Time) (layers, error) {
	l := layers{spec: spec}
	b, sp := split(from, to, st.cutoff)
	parts, rest := s.planBatch(st, spec, b)
	l.parts = parts
	var batch, speed []views.Row
	for _, r := range rest {
		rows, err := s.query(ctx, store.Query{View: spec.Name, Layer: views.Batch, Key: key, From: r.From, To: r.To})
		if err != nil {
			return l, err
		}
		batch = append(batch, rows...)
		l.batchRead = true
	}
	if !sp.empty() {
		var err error
		if speed, err = s.query(ctx, store.Query{View: spec.Name, Layer: views.Speed, Key: key, From: sp.From, To: sp.To}); err != nil {
			return l, err
		}
	}
	l.rows = merge(batch, speed, from, to, st.cutoff)
	return l, nil
}

// planBatch divides the batch span b into the days that the index answers and the spans that
// the store must answer (days not indexed yet, or too big to index).
func (s *Server) planBatch(st *state, spec views.Spec, b span) (parts []indexPart, rest []span) {
	if b.empty() {
		return nil, nil
	}
	if s.index == nil {
		return nil, []span{b}
	}
	for d := views.Day(b.From); d.Before(b.To); d = d.Add(day) {
		p := span{maxTime(b.From, d), minTime(b.To, d.Add(day))}
		// Every day before the cutoff is published (see Cutoff).
		ix, ok := s.index.get(spec, d, publishedRun(st.pubs, d))
		switch n := len(rest); {
		case ok:
			parts = append(parts, indexPart{ix, p.From, p.To})
		case n > 0 && rest[n-1].To.Equal(p.From):
			rest[n-1].To = p.To
		default:
			rest = append(rest, p)
		}
	}
	return parts, rest
}

// buckets returns the buckets of key at granularity gran (see rollup), ordered by start. At a
// coarser granularity than the view's, the index's days are summed from its prefix sums
// without a row being made.
func (l layers) buckets(key string, gran time.Duration, cutoff time.Time) []bucket {
	if len(l.parts) == 0 {
		return rollup(l.rows, l.spec, gran, cutoff)
	}
	if gran == l.spec.Window {
		return rollup(l.keyRows(key), l.spec, gran, cutoff)
	}
	out := rollup(l.rows, l.spec, gran, cutoff)
	for _, p := range l.parts {
		out = p.ix.appendBuckets(out, key, gran, p.from, p.to)
	}
	slices.SortFunc(out, func(a, b bucket) int { return a.Start.Compare(b.Start) })
	return out
}

// keyRows returns the merged rows of key, ordered by window start.
func (l layers) keyRows(key string) []views.Row {
	n := len(l.rows)
	for _, p := range l.parts {
		n += p.ix.keyRows(key, p.from, p.to)
	}
	out := make([]views.Row, 0, n)
	for _, p := range l.parts {
		out = p.ix.appendRows(out, key, p.from, p.to)
	}
	out = append(out, l.rows...)
	if !slices.IsSortedFunc(out, compareRows) {
		slices.SortStableFunc(out, compareRows)
	}
	return out
}

// top returns the n keys with the largest sum of metric, as top does over all the rows.
func (l layers) top(metric string, n int) []keyValue {
	m := slices.IndexFunc(l.spec.Metrics, func(mt views.Metric) bool { return mt.Name == metric })
	if len(l.parts) == 1 && len(l.rows) == 0 { // one day of the index: no map needed
		var h topHeap
		p := l.parts[0]
		p.ix.eachSum(m, p.from, p.to, func(key string, sum int64) { h.offer(keyValue{key, sum}, n) })
		return h.sorted()
	}
	sums := make(map[string]int64)
	for _, p := range l.parts {
		p.ix.eachSum(m, p.from, p.to, func(key string, sum int64) { sums[key] += sum })
	}
	addSums(sums, l.rows, metric)
	return topOf(sums, n)
}

// keys returns the distinct keys with a row, sorted.
func (l layers) keys() []string {
	out := keys(l.rows)
	if len(l.parts) == 0 {
		return out
	}
	for _, p := range l.parts {
		p.ix.eachSum(0, p.from, p.to, func(key string, _ int64) { out = append(out, key) })
	}
	slices.Sort(out)
	return slices.Compact(out)
}
