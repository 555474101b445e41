package beamtest

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.Function1x2[event.Event, beam.EventTime, event.Event](stamp)
}

func stamp(e event.Event) (beam.EventTime, event.Event) { return mtime.FromTime(e.Time), e }

// Events returns events as a PCollection<event.Event>, each timestamped with its event time.
func Events(s beam.Scope, events []event.Event) beam.PCollection {
	return beam.ParDo(s.Scope("beamtest.Events"), stamp, beam.CreateList(s, events))
}
