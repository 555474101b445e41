// Package storeio writes view rows from a Beam pipeline into a view store (package store),
// opened by URL in each worker. Rows are buffered and written in batches; both writes are
// idempotent, so a retried bundle never double counts. UpsertSpeed (speed.go) also keeps the
// latest version of each speed row and records the speed watermark.
package storeio

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
	_ "github.com/beamline/beamline/io/views/rowcoder" // the coder of the rows written
)

// How many rows one store call writes: a batch run's rows are written in large calls (the
// SQLite driver writes a day's shuffled rows ~6x faster in one call of 200k rows than in calls
// of 1,000, see BenchmarkWriteDay), the speed layer's in small ones so that they are fresh.
const (
	batchRunRows = 50_000
	speedRows    = 1_000
)

func init() {
	register.DoFn2x1[context.Context, views.Row, error](&writeFn{})
	register.DoFn3x1[context.Context, views.Row, func(int), error](&batchFn{})
	register.Emitter1[int]()
}

// WriteBatch writes rows (PCollection<views.Row>, in the global window) as part of the
// unpublished batch run run of the store at url. The caller publishes the run once the
// pipeline has succeeded. It returns the number of rows each bundle wrote (PCollection<int>):
// give it a consumer in another stage (a sum, say). Measured on Prism v2.77: a stage with no
// consumed output busy-waits a core for as long as its bundle runs after its input is
// delivered (a 3 s sink bundle cost 2.4 s of CPU without a consumed output, 0.04 s with one).
func WriteBatch(s beam.Scope, url, run string, rows beam.PCollection) beam.PCollection {
	s = s.Scope("storeio.WriteBatch")
	return beam.ParDo(s, &batchFn{writeFn{URL: url, Run: run}}, rows)
}

// batchFn is writeFn with the rows each bundle wrote as its output.
type batchFn struct {
	writeFn
}

func (f *batchFn) ProcessElement(ctx context.Context, row views.Row, _ func(int)) error {
	return f.writeFn.ProcessElement(ctx, row)
}

func (f *batchFn) FinishBundle(ctx context.Context, emit func(int)) error {
	if err := f.writeFn.FinishBundle(ctx); err != nil {
		return err
	}
	emit(f.bundle)
	f.bundle = 0
	return nil
}

// writeFn buffers rows and writes them to a batch run (Run set) or the speed layer.
type writeFn struct {
	URL string
	Run string

	st       *store.Store
	pending  []views.Row
	inflight chan written // the write in flight (see flush)
	bundle   int
	written  beam.Counter
	// writes and writeMicros time the store's writes: their rates' ratio is the mean latency.
	writes, writeMicros beam.Counter
}

func (f *writeFn) Setup(ctx context.Context) error {
	st, err := store.Open(ctx, f.URL)
	if err != nil {
		return err
	}
	f.st = st
	f.written = beam.NewCounter("beamline", "rows_written")
	f.writes = beam.NewCounter("beamline", "store_writes")
	f.writeMicros = beam.NewCounter("beamline", "store_write_us")
	return nil
}

func (f *writeFn) ProcessElement(ctx context.Context, row views.Row) error {
	f.pending = append(f.pending, row)
	if len(f.pending) >= f.flushAt() {
		return f.flush(ctx)
	}
	return nil
}

// flushAt returns how many rows f writes in one store call.
func (f *writeFn) flushAt() int {
	if f.Run != "" {
		return batchRunRows
	}
	return speedRows
}

func (f *writeFn) FinishBundle(ctx context.Context) error {
	if err := f.flush(ctx); err != nil {
		return err
	}
	return f.wait(ctx)
}

// flush writes the pending rows. A batch run's rows are handed to a goroutine and flush
// returns at once, so that the store's work (mostly SQLite's own) overlaps the pipeline's;
// at most one write is in flight, and the next flush or FinishBundle waits for it and
// returns its error. The speed layer's rows are written before flush returns.
func (f *writeFn) flush(ctx context.Context) error {
	if len(f.pending) == 0 {
		return nil
	}
	if err := f.wait(ctx); err != nil {
		return err
	}
	if f.Run == "" {
		err := f.count(ctx, f.write(ctx, f.pending))
		f.pending = f.pending[:0]
		return err
	}
	rows := f.pending
	f.pending = make([]views.Row, 0, len(rows))
	done := make(chan written, 1)
	go func() { done <- f.write(ctx, rows) }()
	f.inflight = done
	return nil
}

// written is the outcome of one store write.
type written struct {
	rows int
	took time.Duration
	err  error
}

// write writes rows to the batch run or the speed layer.
func (f *writeFn) write(ctx context.Context, rows []views.Row) written {
	start := time.Now()
	var err error
	if f.Run != "" {
		err = f.st.WriteBatch(ctx, f.Run, rows)
	} else {
		err = f.st.UpsertSpeed(ctx, rows)
	}
	return written{rows: len(rows), took: time.Since(start), err: err}
}

// wait waits for the write in flight, if any, and counts it.
func (f *writeFn) wait(ctx context.Context) error {
	if f.inflight == nil {
		return nil
	}
	w := <-f.inflight
	f.inflight = nil
	return f.count(ctx, w)
}

// count adds w to the counters and returns its error.
func (f *writeFn) count(ctx context.Context, w written) error {
	f.writes.Inc(ctx, 1)
	f.writeMicros.Inc(ctx, w.took.Microseconds())
	if w.err != nil {
		return fmt.Errorf("storeio: write %d rows: %w", w.rows, w.err)
	}
	f.written.Inc(ctx, int64(w.rows))
	f.bundle += w.rows
	return nil
}

func (f *writeFn) Teardown() error {
	if f.inflight != nil { // a failed bundle's write: let it end before the store closes
		<-f.inflight
	}
	if f.st == nil {
		return nil
	}
	return f.st.Close()
}
