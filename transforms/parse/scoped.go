package parse

import (
	"context"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/scope"
)

func init() {
	register.DoFn4x0[context.Context, event.Raw, func(beam.EventTime, event.Event), func(event.DeadLetter)](&scopedFn{})
}

// scopedFn parses one lake record (event.Raw with a "raw/dt=.../...:line" source) and sorts it
// (see package scope). Owned events and the context events in Config.Context are emitted
// at their event time; owned dead letters go to the dead-letter output.
type scopedFn struct {
	Config scope.Config
	// MaxRecordBytes is the size limit of a record (event.ParseRecord).
	MaxRecordBytes int

	read, context, outOfRange beam.Counter
	dead                      map[event.Reason]beam.Counter
}

func (f *scopedFn) Setup() {
	f.read = beam.NewCounter("beamline", "read")
	f.context = beam.NewCounter("beamline", "context")
	f.outOfRange = beam.NewCounter("beamline", "filtered_"+filter.OutOfRange)
	f.dead = deadCounters()
}

func (f *scopedFn) ProcessElement(ctx context.Context, raw event.Raw, emit func(beam.EventTime, event.Event), dead func(event.DeadLetter)) {
	partition, _ := lake.PartitionOf(raw.Source)
	e, err := event.ParseRecord(raw, f.MaxRecordBytes)
	var eventTime time.Time
	if err == nil {
		eventTime = e.Time
	}
	owner, isEvent := scope.Owner(partition, eventTime)
	owned := f.Config.Owned.Contains(owner) || (partition.IsZero() && err != nil)
	switch {
	case !owned:
		f.context.Inc(ctx, 1)
		if isEvent && f.Config.Context.Contains(e.Time) {
			emit(mtime.FromTime(e.Time), e)
		}
		return
	case err != nil:
		f.read.Inc(ctx, 1)
		dl := event.NewDeadLetter(raw, err)
		f.dead[event.Reason(dl.Reason)].Inc(ctx, 1)
		dead(dl)
	case !isEvent:
		f.read.Inc(ctx, 1)
		f.outOfRange.Inc(ctx, 1)
	default:
		f.read.Inc(ctx, 1)
		emit(mtime.FromTime(e.Time), e)
	}
}

// Scoped parses raws, a PCollection<event.Raw> read from lake partitions, for a run that owns
// cfg.Owned, dead-lettering records over maxRecordBytes (0: event.DefaultMaxRecordBytes) as
// too_large. It returns the owned events and the context events within cfg.Context
// (PCollection<event.Event>, timestamped with event time) and the owned dead letters
// (PCollection<event.DeadLetter>).
//
// Metrics (namespace "beamline"): "read" counts owned records, "context" the others,
// "deadlettered_<reason>" owned dead letters and "filtered_out_of_range" owned events more
// than scope.Reach away from their partition.
func Scoped(s beam.Scope, cfg scope.Config, maxRecordBytes int, raws beam.PCollection) (events, deadLetters beam.PCollection) {
	s = s.Scope("parse.Scoped")
	if cfg.Owned.IsZero() || cfg.Context.From.After(cfg.Owned.From) || cfg.Context.To.Before(cfg.Owned.To) {
		panic("parse.Scoped: Owned must be a range within Context")
	}
	return beam.ParDo2(s, &scopedFn{Config: cfg, MaxRecordBytes: maxRecordBytes}, raws)
}
