// Package dedupe removes duplicate events: events with the same ID count once, wherever and
// whenever they arrive.
//
// # Semantics
//
// ByID is a stateful DoFn keyed by event ID, the same in a bounded and an unbounded pipeline.
// Of the copies of an ID that arrive before the watermark passes the event time of the best
// copy so far, the one kept is the one with the earliest event time, ties broken by the
// smallest raw record. It is emitted when the watermark passes its event time, at its event
// time (a timer holds the watermark there, so the event is never late downstream).
//
//   - In a batch pipeline the watermark moves only once the whole input is read, so every copy
//     is seen first: the choice is exact for any distance between copies.
//   - In a streaming pipeline a copy arriving after the kept one was emitted is a duplicate as
//     long as the ID is remembered: for TTL of event time after the kept event (DESIGN.md:
//     24 h by default). A copy after that passes again as a new event (it cannot be told apart
//     without remembering the ID); the nightly backfill makes the view exact.
//
// Metrics (namespace "beamline"): "processed" counts kept events, "duplicates" the others.
package dedupe

import (
	"bytes"
	"context"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/transforms/event"
)

// DefaultTTL is how long (in event time) an ID is remembered after its kept event.
const DefaultTTL = 24 * time.Hour

func init() {
	register.Function1x2[event.Event, string, event.Event](keyByID)
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, event.Event, func(beam.EventTime, event.Event), error](&dedupeFn{})
	register.Emitter2[beam.EventTime, event.Event]()
}

func keyByID(e event.Event) (string, event.Event) { return e.ID, e }

// Less reports whether a is kept in preference to b when they share an ID.
func Less(a, b event.Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return bytes.Compare(a.Raw, b.Raw) < 0
}

// Timer tags.
const (
	tagEmit   = "emit"
	tagExpire = "expire"
)

// dedupeFn keeps the best copy of an ID until the watermark passes it, then remembers that the
// ID was emitted until the TTL expires.
type dedupeFn struct {
	TTL time.Duration

	Best    state.Value[event.Event]
	Emitted state.Value[bool]
	Timer   timers.EventTime

	processed, duplicates beam.Counter
}

func newDedupeFn(ttl time.Duration) *dedupeFn {
	return &dedupeFn{
		TTL:     ttl,
		Best:    state.MakeValueState[event.Event]("best"),
		Emitted: state.MakeValueState[bool]("emitted"),
		Timer:   timers.InEventTime("dedupe"),
	}
}

func (f *dedupeFn) Setup() {
	f.processed = beam.NewCounter("beamline", "processed")
	f.duplicates = beam.NewCounter("beamline", "duplicates")
}

func (f *dedupeFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, e event.Event, _ func(beam.EventTime, event.Event)) error {
	emitted, _, err := f.Emitted.Read(sp)
	if err != nil {
		return err
	}
	if emitted {
		f.duplicates.Inc(ctx, 1)
		return nil
	}
	best, ok, err := f.Best.Read(sp)
	if err != nil {
		return err
	}
	if ok {
		f.duplicates.Inc(ctx, 1)
		if !Less(e, best) {
			return nil
		}
	}
	if err := f.Best.Write(sp, e); err != nil {
		return err
	}
	f.Timer.Set(tp, e.Time, timers.WithTag(tagEmit), timers.WithOutputTimestamp(e.Time))
	return nil
}

func (f *dedupeFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, timer timers.Context, emit func(beam.EventTime, event.Event)) error {
	if timer.Tag == tagExpire {
		f.Best.Clear(sp)
		f.Emitted.Clear(sp)
		return nil
	}
	best, ok, err := f.Best.Read(sp)
	if err != nil || !ok {
		return err
	}
	f.processed.Inc(ctx, 1)
	emit(mtime.FromTime(best.Time), best)
	if err := f.Emitted.Write(sp, true); err != nil {
		return err
	}
	f.Best.Clear(sp)
	f.Timer.Set(tp, best.Time.Add(f.TTL), timers.WithTag(tagExpire), timers.WithNoOutputTimestamp())
	return nil
}

// ByID keeps one event per ID (see the package doc), remembering IDs for ttl of event time.
// It takes and returns a PCollection<event.Event> timestamped with event time.
func ByID(s beam.Scope, ttl time.Duration, events beam.PCollection) beam.PCollection {
	s = s.Scope("dedupe.ByID")
	if ttl <= 0 {
		panic("dedupe.ByID: ttl must be positive")
	}
	return beam.ParDo(s, newDedupeFn(ttl), beam.ParDo(s, keyByID, events))
}
