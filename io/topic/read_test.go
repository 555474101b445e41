package topic

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x0[source.Message, func(beam.EventTime, source.Message)](stampMessage)
	register.Function2x1[beam.EventTime, event.Event, error](atEventTime)
	register.Function1x1[event.DeadLetter, string](deadKey)
	register.Emitter2[beam.EventTime, source.Message]()
}

// stampMessage timestamps a message as a source does: with its ts attribute's time, here
// carried in Source after a '@' (source.Message has no attributes); garbage at t0.
func stampMessage(m source.Message, emit func(beam.EventTime, source.Message)) {
	at := t0
	var id, ts string
	if n, _ := fmt.Sscanf(m.Source, "%s @ %s", &id, &ts); n == 2 {
		at, _ = time.Parse(time.RFC3339Nano, ts)
	}
	emit(mtime.FromTime(at), m)
}

// atEventTime fails unless an event is timestamped with its event time.
func atEventTime(ts beam.EventTime, e event.Event) error {
	if !ts.ToTime().Equal(e.Time) {
		return fmt.Errorf("event %s at %s, want its event time %s", e.ID, ts.ToTime().UTC(), e.Time)
	}
	return nil
}

func deadKey(dl event.DeadLetter) string { return dl.Reason + " " + dl.Source + " " + string(dl.Raw) }

// TestEvents decodes messages of the wire format, a raw event and garbage: every event comes
// out whole at its event time, the others as dead letters with their bytes and source.
func TestEvents(t *testing.T) {
	events := sampleEvents()
	var msgs []source.Message
	for i, e := range events {
		m, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, source.Message{Data: m.Data, Source: fmt.Sprintf("sub/%d @ %s", i, m.Attributes[AttrTime])})
	}
	rawEvent := `{"event_id":"e-9","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z"}`
	msgs = append(msgs, source.Message{Data: []byte("garbage"), Source: "sub/g"}, source.Message{Data: []byte(rawEvent), Source: "sub/r"})

	p, s := beam.NewPipelineWithRoot()
	decoded, dead := Events(s, beam.ParDo(s, stampMessage, beam.CreateList(s, msgs)))
	beam.ParDo0(s, atEventTime, decoded)
	passert.EqualsList(s, decoded, events)
	passert.Equals(s, beam.ParDo(s, deadKey, dead), "invalid_json sub/g garbage", "missing_field sub/r "+rawEvent)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}
