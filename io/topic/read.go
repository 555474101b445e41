package topic

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
)

func init() {
	register.DoFn5x0[context.Context, beam.EventTime, source.Message, func(beam.EventTime, event.Event), func(event.DeadLetter)](&decodeFn{})
	register.Emitter2[beam.EventTime, event.Event]()
	register.Emitter1[event.DeadLetter]()
}

// Events decodes msgs, a PCollection<source.Message> read from a subscription of a stage's
// topic, and returns the events (PCollection<event.Event>, each at its message's timestamp,
// which the source sets to the event time) and the messages that are not events of the wire
// format (PCollection<event.DeadLetter>, with the message's bytes and source). Nothing is
// dropped: every message comes out on exactly one of the two outputs.
//
// Metrics (namespace "beamline"): "received" counts the events decoded,
// "deadlettered_<reason>" the dead letters by reason.
func Events(s beam.Scope, msgs beam.PCollection) (events, deadLetters beam.PCollection) {
	s = s.Scope("topic.Events")
	return beam.ParDo2(s, &decodeFn{}, msgs)
}

// decodeFn decodes one message.
type decodeFn struct {
	received beam.Counter
	dead     map[event.Reason]beam.Counter
}

func (f *decodeFn) Setup() {
	f.received = beam.NewCounter("beamline", "received")
	f.dead = make(map[event.Reason]beam.Counter, len(event.Reasons))
	for _, r := range event.Reasons {
		f.dead[r] = beam.NewCounter("beamline", "deadlettered_"+string(r))
	}
}

func (f *decodeFn) ProcessElement(ctx context.Context, ts beam.EventTime, m source.Message, emit func(beam.EventTime, event.Event), dead func(event.DeadLetter)) {
	e, err := Unmarshal(m.Data)
	if err != nil {
		dl := event.NewDeadLetter(event.Raw{Bytes: m.Data, Source: m.Source}, err)
		f.dead[event.Reason(dl.Reason)].Inc(ctx, 1)
		dead(dl)
		return
	}
	f.received.Inc(ctx, 1)
	emit(ts, e)
}
