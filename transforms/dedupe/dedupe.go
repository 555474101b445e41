// Package dedupe removes duplicate events: events with the same ID count once, wherever and
// whenever they arrive.
//
// # Semantics
//
// Of the copies of an ID, the one kept is the one with the earliest event time, ties broken by
// the smallest raw record (Less). Metrics (namespace "beamline"): "processed" counts kept
// events, "duplicates" the others.
//
//   - ByID is the batch form: a grouping by ID over the whole input, exact for any distance
//     between copies. Its output leaves the grouping at the end of the global window, so
//     everything after it must not depend on element timestamps (the views carry their
//     windows in their row keys; see package aggregate). Events travel in batches per hash
//     bucket of the ID (one element per bucket and bundle), since Prism's cost is per
//     element: measured on 300k events, a plain GroupByKey by ID took ~10 s.
//   - Stateful is the streaming form, with the same choice among the copies that arrive before
//     the watermark passes the best one: a stateful DoFn keyed by ID that emits the kept copy
//     at its own event time when the watermark passes it (a timer holds the watermark there,
//     so it is never late downstream), then remembers the ID for a TTL of event time
//     (DESIGN.md: 24 h by default). A copy after that passes again as a new event (it cannot
//     be told apart without remembering the ID); the nightly backfill makes the view exact.
//     Measured on Prism: 1M events through Stateful in a batch pipeline took ~10 minutes and
//     11.7 GB (a timer and state per ID), against seconds for ByID, so batch uses ByID.
package dedupe

import (
	"bytes"
	"context"
	"hash/fnv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
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
	register.DoFn2x0[event.Event, func(int, event.Batch)](&bucketFn{})
	register.DoFn4x0[context.Context, int, func(*event.Batch) bool, func(event.Event)](&pickBucketFn{})
	register.Emitter2[int, event.Batch]()
	register.Iter1[event.Batch]()
	register.Emitter1[event.Event]()
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

// buckets is how many groups ByID spreads IDs over.
const buckets = 256

// bucketFn collects the events of a bundle into one batch per bucket of their ID.
type bucketFn struct {
	batches map[int]*event.Batch
}

func (f *bucketFn) StartBundle(_ func(int, event.Batch)) {
	f.batches = map[int]*event.Batch{}
}

func (f *bucketFn) ProcessElement(e event.Event, _ func(int, event.Batch)) {
	h := fnv.New32a()
	h.Write([]byte(e.ID))
	k := int(h.Sum32() % buckets)
	b, ok := f.batches[k]
	if !ok {
		b = &event.Batch{}
		f.batches[k] = b
	}
	b.Events = append(b.Events, e)
}

func (f *bucketFn) FinishBundle(emit func(int, event.Batch)) {
	for k, b := range f.batches {
		emit(k, *b)
	}
	f.batches = nil
}

// pickBucketFn keeps the best copy of each ID of a bucket and counts the rest.
type pickBucketFn struct {
	processed, duplicates beam.Counter
}

func (f *pickBucketFn) Setup() {
	f.processed = beam.NewCounter("beamline", "processed")
	f.duplicates = beam.NewCounter("beamline", "duplicates")
}

func (f *pickBucketFn) ProcessElement(ctx context.Context, _ int, batches func(*event.Batch) bool, emit func(event.Event)) {
	best := map[string]event.Event{}
	var b event.Batch
	var dups int64
	for batches(&b) {
		for _, e := range b.Events {
			if kept, ok := best[e.ID]; ok {
				dups++
				if !Less(e, kept) {
					continue
				}
			}
			best[e.ID] = e
		}
	}
	for _, e := range best {
		emit(e)
	}
	f.processed.Inc(ctx, int64(len(best)))
	if dups > 0 {
		f.duplicates.Inc(ctx, dups)
	}
}

// ByID keeps one event per ID over a bounded input in the global window. It takes and returns
// a PCollection<event.Event>; see the package doc for the output's timestamps.
func ByID(s beam.Scope, events beam.PCollection) beam.PCollection {
	s = s.Scope("dedupe.ByID")
	if events.WindowingStrategy().Fn.Kind != window.GlobalWindows {
		panic("dedupe.ByID needs a bounded input in the global window; use Stateful in streaming")
	}
	grouped := beam.GroupByKey(s, beam.ParDo(s, &bucketFn{}, events))
	return beam.ParDo(s, &pickBucketFn{}, grouped)
}

// Stateful keeps one event per ID in a streaming pipeline (see the package doc), remembering
// IDs for ttl of event time. It takes and returns a PCollection<event.Event> timestamped with
// event time.
func Stateful(s beam.Scope, ttl time.Duration, events beam.PCollection) beam.PCollection {
	s = s.Scope("dedupe.Stateful")
	if ttl <= 0 {
		panic("dedupe.Stateful: ttl must be positive")
	}
	return beam.ParDo(s, newDedupeFn(ttl), beam.ParDo(s, keyByID, events))
}
