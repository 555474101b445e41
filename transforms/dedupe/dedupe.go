// Package dedupe removes duplicate events: events with the same ID count once, wherever and
// whenever they arrive.
//
// # Semantics
//
// Of the events that share an ID, the one kept is the one with the earliest event time; ties
// are broken by the smallest raw record. Every other copy is counted in the Beam metric
// "duplicates" (namespace "beamline"); every kept event in "processed".
//
// ByID is the batch form: a grouping over the whole input, exact for any distance between
// copies. The streaming job needs the same semantics without a global grouping: a stateful DoFn
// keyed by event ID that remembers an ID for a TTL, uses the same counters and keeps the first
// copy to arrive (identical copies make the choice invisible).
package dedupe

import (
	"bytes"
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/transforms/event"
)

func init() {
	register.Function1x2[event.Event, string, event.Event](keyByID)
	register.DoFn4x0[context.Context, string, func(*event.Event) bool, func(beam.EventTime, event.Event)](&pickFn{})
	register.Iter1[event.Event]()
}

func keyByID(e event.Event) (string, event.Event) { return e.ID, e }

// Less reports whether a is kept in preference to b when they share an ID.
func Less(a, b event.Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return bytes.Compare(a.Raw, b.Raw) < 0
}

// pickFn keeps one event per ID and counts the rest.
type pickFn struct {
	processed, duplicates beam.Counter
}

func (f *pickFn) Setup() {
	f.processed = beam.NewCounter("beamline", "processed")
	f.duplicates = beam.NewCounter("beamline", "duplicates")
}

func (f *pickFn) ProcessElement(ctx context.Context, _ string, copies func(*event.Event) bool, emit func(beam.EventTime, event.Event)) {
	var kept, e event.Event
	n := 0
	for copies(&e) {
		if n == 0 || Less(e, kept) {
			kept = e
		}
		n++
	}
	f.processed.Inc(ctx, 1)
	f.duplicates.Inc(ctx, int64(n-1))
	emit(mtime.FromTime(kept.Time), kept)
}

// ByID keeps one event per ID. It takes and returns a PCollection<event.Event>; the input must
// be in the global window (batch), the output is timestamped with event time.
func ByID(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("dedupe.ByID")
	keyed := beam.ParDo(s, keyByID, events)
	return beam.ParDo(s, &pickFn{}, beam.GroupByKey(s, keyed))
}
