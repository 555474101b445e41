package topic

import (
	"context"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn3x1[context.Context, event.Event, func(int), error](&writeFn{})
	register.Emitter1[int]()
}

// DefaultBatchSize is how many messages Write publishes at a time by default (Pub/Sub takes at
// most 1,000 per request).
const DefaultBatchSize = 1000

// WriteOption configures Write.
type WriteOption func(*writeFn)

// BatchSize sets how many messages Write publishes at a time (and waits for); n must be
// positive.
func BatchSize(n int) WriteOption {
	return func(f *writeFn) { f.BatchSize = n }
}

// Write publishes events (PCollection<event.Event>, in the global window) to the topic at url,
// one message per event (Marshal). Each bundle publishes its events in batches and waits until
// the service has accepted them before it finishes, so a runner commits the bundle, and a
// reader that acknowledges after the commit (source.AckAfterCommit) acknowledges its input,
// only once the output is published. It returns the number of events each bundle published
// (PCollection<int>, emitted when the bundle finishes): give it a consumer in another stage,
// since on Prism a stage whose output is finished before its bundle is busy-waits a core (see
// storeio.WriteBatch). It panics on a URL that Validate rejects.
//
// Metrics (namespace "beamline"): "published" counts the events published.
func Write(s beam.Scope, url string, events beam.PCollection, opts ...WriteOption) beam.PCollection {
	s = s.Scope("topic.Write")
	if err := Validate(url); err != nil {
		panic(fmt.Sprintf("topic.Write: %v", err))
	}
	if t := events.Type().Type(); t != reflect.TypeOf(event.Event{}) {
		panic(fmt.Sprintf("topic.Write: input is a PCollection<%v>, want PCollection<event.Event>", t))
	}
	fn := &writeFn{URL: url, BatchSize: DefaultBatchSize}
	for _, o := range opts {
		o(fn)
	}
	if fn.BatchSize <= 0 {
		panic(fmt.Sprintf("topic.Write: batch size %d is not positive", fn.BatchSize))
	}
	return beam.ParDo(s, fn, events)
}

// writeFn publishes the events of a bundle, BatchSize at a time, and the rest when the bundle
// finishes.
type writeFn struct {
	URL       string
	BatchSize int

	pub       Publisher
	buf       []Message
	count     int
	published beam.Counter
}

func (f *writeFn) Setup(ctx context.Context) error {
	p, err := OpenPublisher(ctx, f.URL)
	if err != nil {
		return err
	}
	f.pub = p
	f.published = beam.NewCounter("beamline", "published")
	return nil
}

func (f *writeFn) StartBundle(context.Context, func(int)) {
	clear(f.buf)
	f.buf, f.count = f.buf[:0], 0
}

func (f *writeFn) ProcessElement(ctx context.Context, e event.Event, _ func(int)) error {
	m, err := Marshal(e)
	if err != nil {
		return err
	}
	f.buf = append(f.buf, m)
	if len(f.buf) >= f.BatchSize {
		return f.flush(ctx)
	}
	return nil
}

func (f *writeFn) FinishBundle(ctx context.Context, emit func(int)) error {
	if err := f.flush(ctx); err != nil {
		return err
	}
	if f.count > 0 {
		emit(f.count)
	}
	f.count = 0
	return nil
}

// flush publishes the buffer and waits for the results.
func (f *writeFn) flush(ctx context.Context) error {
	if len(f.buf) == 0 {
		return nil
	}
	n := len(f.buf)
	err := f.pub.Publish(ctx, f.buf)
	clear(f.buf)
	f.buf = f.buf[:0]
	if err != nil {
		f.count = 0
		return fmt.Errorf("topic.Write: %w", err)
	}
	f.count += n
	f.published.Inc(ctx, int64(n))
	return nil
}

func (f *writeFn) Teardown() error {
	if f.pub == nil {
		return nil
	}
	return f.pub.Close()
}
