package bigquerystore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// Queries are built only from these constants; tables resolve in the store's dataset, and
// every value is a bound parameter. They only filter: picking the newest version of each row
// and the run that serves each day happens here, in Go, which also keeps the emulator (whose
// window functions and joins are quadratic) fast.
const (
	selectPublications = `SELECT run, day, published_at, version FROM publications, UNNEST(days) AS day`
	selectBatch        = `SELECT view, key, window_start, window_end, metrics, version, run, day FROM batch_rows
		WHERE view = @view AND window_start >= @from AND window_start < @to AND (@key = '' OR key = @key)
			AND run IN (` // + @run0, @run1, ... + ")"
	selectSpeed = `SELECT view, key, window_start, window_end, metrics, version FROM speed_rows
		WHERE view = @view AND window_start >= @from AND window_start < @to AND (@key = '' OR key = @key)`
	selectMeta = `SELECT value FROM meta WHERE name = @name ORDER BY version DESC LIMIT 1`
)

// Query returns the rows of one layer that match q, ordered by window start, then key. Batch rows
// come only from the run published for the day of their window start.
//
// A batch query reads the publications first, then the rows of the runs they name. Rows are
// never changed or deleted, and a run's rows are all written before it is published, so the
// second read returns exactly what those runs held when the first one ran: one snapshot.
func (s *Store) Query(ctx context.Context, q store.Query) ([]views.Row, error) {
	var (
		rows []versioned
		err  error
	)
	switch q.Layer {
	case views.Batch:
		rows, err = s.batchRows(ctx, q)
	case views.Speed:
		rows, err = s.readRows(ctx, selectSpeed, params(q), nil)
	default:
		err = fmt.Errorf("unknown layer %q", q.Layer)
	}
	if err != nil {
		return nil, err
	}
	return newest(rows, q.Layer), nil
}

func params(q store.Query) []bigquery.QueryParameter {
	return []bigquery.QueryParameter{{Name: "view", Value: q.View}, {Name: "key", Value: q.Key},
		{Name: "from", Value: q.From.UTC()}, {Name: "to", Value: q.To.UTC()}}
}

// versioned is a row as stored, with its version and, for batch rows, run and day.
type versioned struct {
	View        string    `bigquery:"view"`
	Key         string    `bigquery:"key"`
	WindowStart time.Time `bigquery:"window_start"`
	WindowEnd   time.Time `bigquery:"window_end"`
	Metrics     string    `bigquery:"metrics"`
	Version     int64     `bigquery:"version"`
	Run         string    `bigquery:"run"`
	Day         time.Time `bigquery:"day"`
}

// batchRows returns the stored rows that match q of the run serving each day in q's range.
func (s *Store) batchRows(ctx context.Context, q store.Query) ([]versioned, error) {
	pubs, err := s.served(ctx)
	if err != nil {
		return nil, err
	}
	serving := map[int64]string{}
	var runs []string
	for _, p := range pubs {
		if !p.Day.Before(views.Day(q.From)) && p.Day.Before(q.To) {
			serving[p.Day.UnixMicro()] = p.Run
			runs = append(runs, p.Run)
		}
	}
	if len(runs) == 0 {
		return nil, nil
	}
	slices.Sort(runs)
	text, ps := selectBatch, params(q)
	for i, run := range slices.Compact(runs) {
		name := fmt.Sprintf("run%d", i)
		text += map[bool]string{true: "@", false: ", @"}[i == 0] + name
		ps = append(ps, bigquery.QueryParameter{Name: name, Value: run})
	}
	return s.readRows(ctx, text+")", ps, func(r versioned) bool {
		return serving[r.Day.UnixMicro()] == r.Run
	})
}

// readRows runs a row query and returns the rows that keep accepts (all if keep is nil).
func (s *Store) readRows(ctx context.Context, text string, ps []bigquery.QueryParameter, keep func(versioned) bool) ([]versioned, error) {
	var out []versioned
	err := s.read(ctx, text, ps, func(it *bigquery.RowIterator) error {
		var r versioned
		if err := it.Next(&r); err != nil {
			return err
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// newest returns, for each view, key and window start, the row that serves: in the batch layer
// the one with the highest version; in the speed layer the heaviest (views.Row.Weight), of equal
// ones the highest version, so that a served speed row never goes down (the log is append-only:
// a lighter version written later, by a job that rebuilds a window, is kept but never served).
// Ordered by window start, then key.
func newest(rows []versioned, layer views.Layer) []views.Row {
	type candidate struct {
		versioned
		row    views.Row
		weight int64
	}
	cs := make([]candidate, len(rows))
	for i, r := range rows {
		cs[i] = candidate{versioned: r, row: toRow(r, layer)}
		if layer == views.Speed {
			cs[i].weight = cs[i].row.Weight()
		}
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Key, b.Key), cmp.Compare(a.View, b.View),
			cmp.Compare(b.weight, a.weight), cmp.Compare(b.Version, a.Version))
	})
	var out []views.Row
	for i, c := range cs {
		if i > 0 && same(cs[i-1].versioned, c.versioned) {
			continue
		}
		out = append(out, c.row)
	}
	return out
}

func same(a, b versioned) bool {
	return a.View == b.View && a.Key == b.Key && a.WindowStart.Equal(b.WindowStart)
}

// toRow decodes a stored row. Metrics that do not decode (never written by this store) come
// back empty, which views.Row.Validate rejects downstream.
func toRow(r versioned, layer views.Layer) views.Row {
	row := views.Row{View: r.View, Key: r.Key, WindowStart: r.WindowStart.UTC(), WindowEnd: r.WindowEnd.UTC(), Layer: layer}
	row.Metrics, _ = views.DecodeMetrics([]byte(r.Metrics))
	return row
}

// read runs the query text with params in the store's dataset and calls next until the
// iterator is done.
func (s *Store) read(ctx context.Context, text string, params []bigquery.QueryParameter, next func(*bigquery.RowIterator) error) error {
	q := s.client.Query(text)
	q.DefaultProjectID, q.DefaultDatasetID = s.dataset.ProjectID, s.dataset.DatasetID
	q.Parameters = params
	it, err := q.Read(ctx)
	if err != nil {
		return err
	}
	for {
		err := next(it)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// served returns, for each published day, the publication that serves it: of those that list
// it, the one of the run that started last (run IDs sort by start time), the newest of that
// run's. Ordered by day.
func (s *Store) served(ctx context.Context) ([]store.Publication, error) {
	type pub struct {
		store.Publication
		version int64
	}
	byDay := map[int64]pub{}
	err := s.read(ctx, selectPublications, nil, func(it *bigquery.RowIterator) error {
		var r struct {
			Run         string    `bigquery:"run"`
			Day         time.Time `bigquery:"day"`
			PublishedAt time.Time `bigquery:"published_at"`
			Version     int64     `bigquery:"version"`
		}
		if err := it.Next(&r); err != nil {
			return err
		}
		if old, ok := byDay[r.Day.UnixMicro()]; !ok || r.Run > old.Run || (r.Run == old.Run && r.Version > old.version) {
			byDay[r.Day.UnixMicro()] = pub{store.Publication{Day: r.Day.UTC(), Run: r.Run, PublishedAt: r.PublishedAt.UTC()}, r.Version}
		}
		return nil
	})
	out := make([]store.Publication, 0, len(byDay))
	for _, p := range byDay {
		out = append(out, p.Publication)
	}
	slices.SortFunc(out, func(a, b store.Publication) int { return a.Day.Compare(b.Day) })
	return out, err
}

// Publications returns the published days and their runs, ordered by day.
func (s *Store) Publications(ctx context.Context) ([]store.Publication, error) {
	out, err := s.served(ctx)
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// SpeedWatermark returns the last recorded speed watermark (UTC), or the zero time if none.
func (s *Store) SpeedWatermark(ctx context.Context) (time.Time, error) {
	var w time.Time
	err := s.read(ctx, selectMeta, []bigquery.QueryParameter{{Name: "name", Value: speedWatermark}}, func(it *bigquery.RowIterator) error {
		var r struct {
			Value time.Time `bigquery:"value"`
		}
		if err := it.Next(&r); err != nil {
			return err
		}
		w = r.Value.UTC()
		return nil
	})
	return w, err
}
