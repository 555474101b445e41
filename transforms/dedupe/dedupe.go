// Package dedupe removes duplicate events: events with the same ID count once, wherever and
// whenever they arrive.
//
// # Semantics
//
// Of the copies of an ID, the one kept is the one with the earliest event time, ties broken by
// the smallest raw record (Less). Metrics (namespace "beamline"): "processed" counts kept
// events, "duplicates" the others.
//
//   - ByID is the batch form: a grouping by ID over the whole input. A copy more than the TTL
//     after the copy before it passes again, as in Stateful, so each copy is decided by the
//     TTL of event time before it and runs of neighbouring days agree (package scope). Its
//     output leaves the grouping at the end of the global window, so everything after it must
//     not depend on element timestamps (the views carry their windows in their row keys; see
//     package aggregate). Events travel in batches per hash bucket of the ID.
//   - Stateful is the streaming form, with the same choice among the copies that arrive before
//     the watermark passes the best one. Events travel in batches per hash bucket of the ID
//     (64 buckets, one batch per bucket and bundle) to a stateful DoFn keyed by bucket, which
//     keeps the copies in a bag until the watermark passes them (copies that arrive behind it
//     are decided at once), then emits the best copy of each ID at its own event time (a
//     timer per bucket holds the watermark at or before it, so a copy that arrived in time is
//     never late downstream) and remembers the ID for a TTL of event time (DESIGN.md: 24 h by
//     default). A copy after that passes again as a new event (it cannot be told apart
//     without remembering the ID); the nightly backfill makes the view exact. An ID takes
//     state for at most two TTLs (see dedupeFn).
//
// # Where Stateful remembers IDs
//
// The kept IDs are appended, one batch per firing, to bags in the runner's state, and
// looked up in a worker's memory of those bags that a token in the same state validates
// (memory.go): a worker that does not hold the latest token reads the bags again, so the
// result is the same on every runner and after any failure. An ID takes 16 bytes in the
// runner's state (8 of its hash and its kept time) and about 28 in the memory of the worker
// running its bucket. Without a budget, that is R x 2 x TTL IDs at R events/s (at 1k events/s
// and the default 24 h TTL, 173M IDs, ~8 GB): so Stateful has a state budget
// (Options.MaxIDs, DefaultMaxIDs), past which each bucket forgets its oldest IDs. A copy of
// a forgotten ID passes again as a new event, as one after the TTL does; the nightly
// backfill, which dedupes the whole day, makes the views exact.
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

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/bucket"
)

// DefaultTTL is how long (in event time) an ID is remembered after its kept event.
const DefaultTTL = 24 * time.Hour

func init() {
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, int, event.Batch, func(beam.EventTime, event.Event), error](&dedupeFn{})
	register.DoFn2x0[event.Event, func(beam.EventTime, int, event.Batch)](&streamBucketFn{})
	register.Emitter3[beam.EventTime, int, event.Batch]()
	register.Emitter2[beam.EventTime, event.Event]()
}

// Less reports whether a is kept in preference to b when they share an ID.
func Less(a, b event.Event) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return bytes.Compare(a.Raw, b.Raw) < 0
}

// Options configure Stateful.
type Options struct {
	// TTL is how long (event time) an ID is remembered after its kept event (at least 1ms).
	TTL time.Duration
	// MaxIDs is the state budget: the most IDs remembered at once across the job (0: no limit
	// but the TTL). Past it, each bucket forgets its oldest IDs (counter "dedupe_evicted"); a
	// later copy of a forgotten ID passes as a new event, and the counter
	// "duplicates_expired" estimates how many did (the nightly backfill removes them).
	MaxIDs int64
}

// DefaultMaxIDs is the default state budget of Stateful: 16M IDs, about 0.7 GB of memory in
// all (16 bytes per ID in the runner's state, ~28 in the worker's memory, and the garbage
// collector's headroom), which fits a laptop; at 1k events/s it holds 4.4 hours of IDs.
const DefaultMaxIDs = 16_000_000

// bucketIDs is the budget of one bucket.
func (o Options) bucketIDs() int64 {
	if o.MaxIDs <= 0 {
		return 0
	}
	return max(o.MaxIDs/statefulBuckets, 1)
}

// Stateful keeps one event per ID in a streaming pipeline (see the package doc), remembering
// IDs as opts say. It takes and returns a PCollection<event.Event> timestamped with event
// time.
func Stateful(s beam.Scope, opts Options, events beam.PCollection) beam.PCollection {
	s = s.Scope("dedupe.Stateful")
	if opts.TTL < time.Millisecond {
		panic("dedupe.Stateful: TTL must be at least 1ms")
	}
	return beam.ParDo(s, newDedupeFn(opts), beam.ParDo(s, &streamBucketFn{}, events))
}

// streamBucketFn collects the events of a bundle into one batch per bucket of their ID, each
// timestamped with its earliest event.
type streamBucketFn struct {
	batches bucket.Batches[int, event.Batch]
}

func (f *streamBucketFn) StartBundle(_ func(beam.EventTime, int, event.Batch)) {
	f.batches = bucket.Batches[int, event.Batch]{}
}

func (f *streamBucketFn) ProcessElement(e event.Event, _ func(beam.EventTime, int, event.Batch)) {
	b := f.batches.Get(bucket.Of(e.ID, statefulBuckets))
	b.Events = append(b.Events, e)
}

func (f *streamBucketFn) FinishBundle(emit func(beam.EventTime, int, event.Batch)) {
	f.batches.Flush(func(k int, b event.Batch) { emit(mtime.FromTime(earliestTime(b.Events)), k, b) })
}
