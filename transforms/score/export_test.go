package score

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/event"
)

// Bundle drives the scoring DoFn of cfg outside a runner, for the external tests' benchmarks:
// Process feeds one element, Finish ends the bundle; Out counts outputs.
type Bundle struct {
	fn  *scoreFn
	Out int
}

// NewBundle sets up the DoFn of cfg.
func NewBundle(ctx context.Context, cfg Config) (*Bundle, error) {
	cfg = cfg.withDefaults()
	b := &Bundle{fn: &scoreFn{Model: cfg.Model, Threshold: cfg.Threshold, BatchSize: cfg.BatchSize, MaxDelay: cfg.MaxDelay}}
	return b, b.fn.Setup(ctx)
}

func (b *Bundle) emit(beam.EventTime, event.Event)      { b.Out++ }
func (b *Bundle) dead(beam.EventTime, event.DeadLetter) { b.Out++ }

// Process feeds e at ts.
func (b *Bundle) Process(ctx context.Context, ts beam.EventTime, e event.Event) error {
	return b.fn.ProcessElement(ctx, ts, e, b.emit, b.dead)
}

// Finish ends the bundle.
func (b *Bundle) Finish(ctx context.Context) error { return b.fn.FinishBundle(ctx, b.emit, b.dead) }
