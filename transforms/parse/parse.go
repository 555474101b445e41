// Package parse turns raw records into events, and records that are not valid events into dead
// letters. Nothing is dropped: every record read comes out on exactly one of the two outputs.
//
// Metrics (namespace "beamline"): "read" counts records, "deadlettered_<reason>" counts dead
// letters by reason.
//
// Events parses every record a streaming job reads; Scoped parses the lake records of a batch
// run, which also reads context from neighbouring days (package scope): it counts only the
// records the run owns, and "context" the others.
package parse

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn4x0[context.Context, event.Raw, func(beam.EventTime, event.Event), func(event.DeadLetter)](&parseFn{})
	register.Emitter2[beam.EventTime, event.Event]()
	register.Emitter1[event.DeadLetter]()
}

// parseFn parses one record; events are emitted at their event time.
type parseFn struct {
	// MaxRecordBytes is the size limit of a record (event.ParseRecord).
	MaxRecordBytes int

	read beam.Counter
	dead map[event.Reason]beam.Counter
}

func (f *parseFn) Setup() {
	f.read = beam.NewCounter("beamline", "read")
	f.dead = deadCounters()
}

// deadCounters returns the dead-letter counters by reason.
func deadCounters() map[event.Reason]beam.Counter {
	dead := make(map[event.Reason]beam.Counter, len(event.Reasons))
	for _, r := range event.Reasons {
		dead[r] = beam.NewCounter("beamline", "deadlettered_"+string(r))
	}
	return dead
}

func (f *parseFn) ProcessElement(ctx context.Context, raw event.Raw, emit func(beam.EventTime, event.Event), dead func(event.DeadLetter)) {
	f.read.Inc(ctx, 1)
	e, err := event.ParseRecord(raw, f.MaxRecordBytes)
	if err != nil {
		dl := event.NewDeadLetter(raw, err)
		f.dead[event.Reason(dl.Reason)].Inc(ctx, 1)
		dead(dl)
		return
	}
	emit(mtime.FromTime(e.Time), e)
}

// Events parses a PCollection<event.Raw>, dead-lettering records over maxRecordBytes (0:
// event.DefaultMaxRecordBytes) as too_large. It returns the events (PCollection<event.Event>,
// timestamped with their event time) and the dead letters (PCollection<event.DeadLetter>).
func Events(s beam.Scope, maxRecordBytes int, raws beam.PCollection) (events, deadLetters beam.PCollection) {
	s = s.Scope("parse.Events")
	return beam.ParDo2(s, &parseFn{MaxRecordBytes: maxRecordBytes}, raws)
}
