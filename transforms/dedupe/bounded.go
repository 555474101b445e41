package dedupe

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/beamline/beamline/io/spill"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/transforms/bucket"
	"github.com/beamline/beamline/transforms/scope"
)

func init() {
	register.DoFn2x0[event.Event, func(int, event.Batch)](&bucketFn{})
	register.DoFn4x0[context.Context, int, func(*event.Batch) bool, func(event.Event)](&pickBucketFn{})
	register.DoFn4x1[context.Context, int, func(*spill.Ref) bool, func(event.Event), error](&pickSpilledFn{})
	register.DoFn3x0[int, beam.Y, func(int, beam.Y)](&partFn{})
	register.Emitter2[int, beam.Y]()
	register.Emitter2[int, event.Batch]()
	register.Iter1[event.Batch]()
	register.Emitter1[event.Event]()
}

// ByID is the batch form of dedupe, over a bounded input in the global window. Of the copies of
// an ID, ordered by Less, a copy is kept when it is the first or when the copy before it is more
// than ttl earlier in event time; every other copy is a duplicate. So the best copy is always
// kept, copies within ttl of a better one never are, and each copy is decided by the copies
// within ttl before it: a run that reads ttl of event time before its own days decides them
// exactly as a run over all the data (package scope).
//
// Only copies whose event time is in sc.Owned are counted ("processed" or "duplicates"); the
// others are context of a batch run. Copies before sc.DecideOnly only decide later copies:
// they travel as their ID and event time alone and are not emitted. It takes a
// PCollection<event.Event> and returns the kept copies, owned or not; the output leaves the
// grouping at the end of the global window, so nothing after it may depend on element
// timestamps.
//
// With a spillDir, the events cross the grouping as spill files under it (package spill): the
// runner then holds a reference per batch instead of the events. Use it only with a runner
// whose workers all run on this machine (Prism); "" groups the batches themselves.
func ByID(s beam.Scope, ttl time.Duration, sc scope.Config, events beam.PCollection, spillDir string) beam.PCollection {
	return ByIDInParts(s, ttl, sc, events, spillDir, 1)[0]
}

// ByIDInParts is ByID with its buckets grouped in parts separate groupings, and the kept events
// of each part returned as a PCollection of its own: Prism runs all the keys of a grouping as
// one bundle on one core, and the parts as bundles of their own, in parallel. Apply what
// follows dedupe to each part; a flatten of the parts would be a stage boundary that every
// event crosses.
func ByIDInParts(s beam.Scope, ttl time.Duration, sc scope.Config, events beam.PCollection, spillDir string, parts int) []beam.PCollection {
	s = s.Scope("dedupe.ByID")
	if events.WindowingStrategy().Fn.Kind != window.GlobalWindows {
		panic("dedupe.ByID needs a bounded input in the global window; use Stateful in streaming")
	}
	if ttl < time.Millisecond {
		panic("dedupe.ByID: ttl must be at least 1ms")
	}
	if parts < 1 || parts > buckets {
		panic(fmt.Sprintf("dedupe.ByIDInParts: parts must be in [1, %d]", buckets))
	}
	keyed := beam.ParDo(s, &bucketFn{DecideOnly: sc.DecideOnly}, events)
	if spillDir != "" {
		keyed = spill.Values(s, spillDir, keyed)
	}
	pick := pickBucketFn{TTL: ttl, Owned: sc.Owned, DecideOnly: sc.DecideOnly}
	out := make([]beam.PCollection, parts)
	for i := range out {
		in := keyed
		if parts > 1 {
			in = beam.ParDo(s, &partFn{Part: i, Parts: parts}, keyed)
		}
		if spillDir != "" {
			out[i] = beam.ParDo(s, &pickSpilledFn{pick}, beam.GroupByKey(s, in))
		} else {
			out[i] = beam.ParDo(s, &pick, beam.GroupByKey(s, in))
		}
	}
	return out
}

// partFn passes the buckets of one part: those whose number is Part modulo Parts.
type partFn struct {
	Part, Parts int
}

func (f *partFn) ProcessElement(k int, v beam.Y, emit func(int, beam.Y)) {
	if k%f.Parts == f.Part {
		emit(k, v)
	}
}

// buckets is how many groups ByID spreads IDs over. Events travel in batches per bucket (one
// element per bucket and bundle, or per maxBatch events): Prism's cost is per element.
const buckets = 256

// maxBatch is the most events a bucket's batch holds before it is emitted, so that a bundle
// holds at most buckets x maxBatch events whatever its size.
const maxBatch = 512

// bucketFn collects the events of a bundle into one batch per bucket of their ID, those before
// DecideOnly reduced to their ID and event time.
type bucketFn struct {
	DecideOnly time.Time

	batches bucket.Batches[int, event.Batch]
}

func (f *bucketFn) StartBundle(_ func(int, event.Batch)) {
	f.batches = bucket.Batches[int, event.Batch]{}
}

func (f *bucketFn) ProcessElement(e event.Event, emit func(int, event.Batch)) {
	if e.Time.Before(f.DecideOnly) {
		e = event.Event{ID: e.ID, Time: e.Time}
	}
	k := bucket.Of(e.ID, buckets)
	b := f.batches.Get(k)
	b.Events = append(b.Events, e)
	if len(b.Events) >= maxBatch {
		emit(k, f.batches.Take(k))
	}
}

func (f *bucketFn) FinishBundle(emit func(int, event.Batch)) {
	f.batches.Flush(emit)
}

// pickBucketFn decides the copies of each ID of a bucket and counts the owned ones.
type pickBucketFn struct {
	TTL        time.Duration
	Owned      scope.Range
	DecideOnly time.Time

	processed, duplicates beam.Counter
}

func (f *pickBucketFn) Setup() {
	f.processed = beam.NewCounter("beamline", "processed")
	f.duplicates = beam.NewCounter("beamline", "duplicates")
}

func (f *pickBucketFn) ProcessElement(ctx context.Context, _ int, batches func(*event.Batch) bool, emit func(event.Event)) {
	copies := map[string][]event.Event{}
	var b event.Batch
	for batches(&b) {
		addCopies(copies, b)
	}
	f.pick(ctx, copies, emit)
}

// addCopies adds the events of b to the copies of their IDs.
func addCopies(copies map[string][]event.Event, b event.Batch) {
	for _, e := range b.Events {
		copies[e.ID] = append(copies[e.ID], e)
	}
}

// pickSpilledFn is pickBucketFn over batches spilled to files (see ByID).
type pickSpilledFn struct {
	pickBucketFn
}

func (f *pickSpilledFn) ProcessElement(ctx context.Context, _ int, refs func(*spill.Ref) bool, emit func(event.Event)) error {
	copies := map[string][]event.Event{}
	err := spill.Each(refs, func(b event.Batch) error {
		addCopies(copies, b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dedupe: %w", err)
	}
	f.pick(ctx, copies, emit)
	return nil
}

// pick decides the copies of each ID and emits the kept ones.
func (f *pickBucketFn) pick(ctx context.Context, copies map[string][]event.Event, emit func(event.Event)) {
	var kept, dups int64
	for _, cs := range copies {
		for i, keep := range keepWithin(cs, f.TTL) {
			owned := f.Owned.Contains(cs[i].Time)
			switch {
			case keep:
				if !cs[i].Time.Before(f.DecideOnly) {
					emit(cs[i])
				}
				if owned {
					kept++
				}
			case owned:
				dups++
			}
		}
	}
	f.processed.Inc(ctx, kept)
	if dups > 0 {
		f.duplicates.Inc(ctx, dups)
	}
}

// keepWithin sorts the copies of one ID by Less and says which are kept: the first, and each
// one whose predecessor is more than ttl earlier.
func keepWithin(copies []event.Event, ttl time.Duration) []bool {
	slices.SortFunc(copies, func(a, b event.Event) int {
		switch {
		case Less(a, b):
			return -1
		case Less(b, a):
			return 1
		}
		return 0
	})
	keep := make([]bool, len(copies))
	for i := range copies {
		keep[i] = i == 0 || copies[i].Time.Sub(copies[i-1].Time) > ttl
	}
	return keep
}
