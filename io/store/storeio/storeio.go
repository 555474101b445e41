// Package storeio writes view rows from a Beam pipeline into a view store (package store),
// opened by URL in each worker. Rows are buffered and written in batches; both writes are
// idempotent, so a retried bundle never double counts.
package storeio

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
)

// batchSize is how many rows one store call writes.
const batchSize = 1000

func init() {
	register.DoFn2x1[context.Context, views.Row, error](&writeFn{})
}

// WriteBatch writes rows (PCollection<views.Row>) as part of the unpublished batch run run of
// the store at url. The caller publishes the run once the pipeline has succeeded.
func WriteBatch(s beam.Scope, url, run string, rows beam.PCollection) {
	s = s.Scope("storeio.WriteBatch")
	beam.ParDo0(s, &writeFn{URL: url, Run: run}, rows)
}

// UpsertSpeed upserts rows (PCollection<views.Row>) into the speed layer of the store at url.
func UpsertSpeed(s beam.Scope, url string, rows beam.PCollection) {
	s = s.Scope("storeio.UpsertSpeed")
	beam.ParDo0(s, &writeFn{URL: url}, rows)
}

// writeFn buffers rows and writes them to a batch run (Run set) or the speed layer.
type writeFn struct {
	URL string
	Run string

	st      store.Store
	pending []views.Row
	written beam.Counter
}

func (f *writeFn) Setup(ctx context.Context) error {
	st, err := store.Open(ctx, f.URL)
	if err != nil {
		return err
	}
	f.st = st
	f.written = beam.NewCounter("beamline", "rows_written")
	return nil
}

func (f *writeFn) ProcessElement(ctx context.Context, row views.Row) error {
	f.pending = append(f.pending, row)
	if len(f.pending) >= batchSize {
		return f.flush(ctx)
	}
	return nil
}

func (f *writeFn) FinishBundle(ctx context.Context) error {
	return f.flush(ctx)
}

func (f *writeFn) flush(ctx context.Context) error {
	if len(f.pending) == 0 {
		return nil
	}
	var err error
	if f.Run != "" {
		err = f.st.WriteBatch(ctx, f.Run, f.pending)
	} else {
		err = f.st.UpsertSpeed(ctx, f.pending)
	}
	if err != nil {
		return fmt.Errorf("storeio: write %d rows: %w", len(f.pending), err)
	}
	f.written.Inc(ctx, int64(len(f.pending)))
	f.pending = f.pending[:0]
	return nil
}

func (f *writeFn) Teardown() error {
	if f.st == nil {
		return nil
	}
	return f.st.Close()
}
