package scope

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn3x0[event.Event, func(event.Event), func(event.Event)](&splitFn{})
	register.Emitter1[event.Event]()
}

// splitFn sends the events in Owned to its first output and the others to its second.
type splitFn struct {
	Owned Range
}

func (f *splitFn) ProcessElement(e event.Event, owned, context func(event.Event)) {
	if f.Owned.Contains(e.Time) {
		owned(e)
	} else {
		context(e)
	}
}

// Split splits events (PCollection<event.Event>) into those whose event time is in owned and
// the others (context), so that only a run's own events are enriched and scored.
func Split(s beam.Scope, owned Range, events beam.PCollection) (ownedEvents, contextEvents beam.PCollection) {
	s = s.Scope("scope.Split")
	return beam.ParDo2(s, &splitFn{Owned: owned}, events)
}
