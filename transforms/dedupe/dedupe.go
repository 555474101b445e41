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
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/event"
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

// Timer tags: the emit timer's, and the prefix of an expire timer's, which ends in the
// generation it was set for (the SDK does not tell OnTimer when a timer was set to fire).
const (
	tagEmit   = "emit"
	tagExpire = "expire/"
)

// emitStep is the granularity of the emit timers: a bucket's pending copies are emitted when
// the watermark passes the next multiple of emitStep at or after the earliest of them, so a
// bucket fires at most once per emitStep of event time while the watermark moves smoothly.
// The watermark is held at the earliest pending copy meanwhile, so nothing emitted is late.
const emitStep = time.Second

// statefulBuckets is how many keys Stateful spreads IDs over. Prism's cost is per key with
// state and timers and per state request, so few keys with many events each are much cheaper
// than a key per ID; on Dataflow it bounds the parallelism of the dedupe step.
const statefulBuckets = 64

// dedupeFn dedupes one bucket of IDs. It keeps every copy that arrives in Pending until the
// watermark passes it (a copy that arrives behind the watermark is due at once, see
// splitBehind), then emits the best copy of each due ID that it has not kept within the TTL,
// and remembers the ID (see memory.go: Kept0, Kept1 and Token in the runner's
// state, a memory of them in the worker).
//
// The kept IDs are held per parity of the TTL generation (event time / TTL) of the kept copy.
// An entry counts until the watermark passes its kept time + TTL; the IDs of a parity are
// cleared when the watermark enters the next generation of that parity, so an ID takes
// memory for at most two TTLs.
type dedupeFn struct {
	TTL time.Duration
	// BucketIDs is the most IDs a bucket holds (0: no limit); see Options.MaxIDs.
	BucketIDs int64
	// MemoryID names the worker memory of this transform's kept IDs (see memory.go).
	MemoryID string

	Pending state.Bag[event.Batch]
	Hold    state.Value[int64] // a pending event time (Unix ms) in the emitStep of the earliest
	Clock   state.Value[int64] // latest time a timer of the bucket fired at: the watermark is past it
	KeptGen state.Value[int64] // latest generation with kept IDs
	Kept0   state.Bag[keptBatch]
	Kept1   state.Bag[keptBatch]
	Token   state.Value[int64]
	Timer   timers.EventTime

	processed, duplicates, evicted, expired beam.Counter
	mem                                     *memory
}

func newDedupeFn(opts Options) *dedupeFn {
	return &dedupeFn{
		TTL:       opts.TTL,
		BucketIDs: opts.bucketIDs(),
		MemoryID:  uuid.NewString(),
		Pending:   state.MakeBagState[event.Batch]("pending"),
		Hold:      state.MakeValueState[int64]("hold"),
		Clock:     state.MakeValueState[int64]("clock"),
		KeptGen:   state.MakeValueState[int64]("kept_gen"),
		Kept0:     state.MakeBagState[keptBatch]("kept0"),
		Kept1:     state.MakeBagState[keptBatch]("kept1"),
		Token:     state.MakeValueState[int64]("kept_token"),
		Timer:     timers.InEventTime("dedupe"),
	}
}

func (f *dedupeFn) Setup() {
	f.processed = beam.NewCounter("beamline", "processed")
	f.duplicates = beam.NewCounter("beamline", "duplicates")
	f.evicted = beam.NewCounter("beamline", "dedupe_evicted")
	f.expired = beam.NewCounter("beamline", "duplicates_expired")
	f.mem = acquireMemory(f.MemoryID)
}

func (f *dedupeFn) Teardown() {
	releaseMemory(f.MemoryID)
}

// lockMemory locks the worker memory of bucket, valid as of the runner's state, and returns
// it with the durable kept IDs of the bucket (sp is for it). The caller unlocks mem.mu.
func (f *dedupeFn) lockMemory(sp state.Provider, bucket int) (*bucketMemory, keptState, error) {
	ks := keptState{sp: sp, bags: [2]*state.Bag[keptBatch]{&f.Kept0, &f.Kept1}, token: &f.Token}
	mem := f.mem.bucket(bucket)
	return mem, ks, mem.lock(ks)
}

// generation is the TTL generation of t.
func (f *dedupeFn) generation(t time.Time) int64 {
	return t.UnixMilli() / f.TTL.Milliseconds()
}

// emitAt is when the emit timer fires for pending copies whose earliest event time is
// earliest: the first multiple of emitStep at or after it.
func emitAt(earliest time.Time) time.Time {
	at := earliest.Truncate(emitStep)
	if at.Before(earliest) {
		at = at.Add(emitStep)
	}
	return at
}

// setEmit sets the emit timer for pending copies whose earliest event time is earliest. The
// timer holds the watermark at the first millisecond of the step that ends at its firing
// time, not at earliest itself: Prism counts a timer's holds by firing time, and a timer set
// again at the same firing time with another hold panics it ("negative watermark hold
// count").
func (f *dedupeFn) setEmit(tp timers.Provider, earliest time.Time) {
	at := emitAt(earliest)
	f.Timer.Set(tp, at, timers.WithTag(tagEmit), timers.WithOutputTimestamp(at.Add(time.Millisecond-emitStep)))
}

func (f *dedupeFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, bucket int, b event.Batch, emit func(beam.EventTime, event.Event)) error {
	if len(b.Events) == 0 {
		return nil
	}
	hold, holding, err := f.Hold.Read(sp)
	if err != nil {
		return err
	}
	behind, ahead, now, err := f.splitBehind(sp, b.Events, hold, holding)
	if err != nil {
		return err
	}
	if len(behind) > 0 {
		best := map[string]event.Event{}
		dups := pickBest(best, behind)
		if err := f.emitNew(ctx, sp, tp, bucket, slices.Collect(maps.Values(best)), dups, now, emit); err != nil {
			return err
		}
	}
	if len(ahead) == 0 {
		return nil
	}
	if err := f.Pending.Add(sp, event.Batch{Events: ahead}); err != nil {
		return err
	}
	earliest := earliestTime(ahead)
	if holding && !emitAt(earliest).Before(emitAt(time.UnixMilli(hold))) {
		return nil // the emit timer fires for these copies too
	}
	if err := f.Hold.Write(sp, earliest.UnixMilli()); err != nil {
		return err
	}
	f.setEmit(tp, earliest)
	return nil
}

// splitBehind splits events into those the watermark has passed that are also earlier than
// every pending copy (behind), which are due now, and the others (ahead), which wait for the
// emit timer. It returns the bucket's clock as the time of the behind ones' TTL check.
//
// Events behind the watermark are common: a source's watermark passes a time before all of
// that time's events arrive (for one, the generator's and many clients' whole-second
// timestamps, 5% of its events, are up to a second behind it). Were they pending, each would
// set the emit timer behind the watermark, so the bucket would fire again in every bundle and
// read and rewrite all its pending copies each time, and the timer's hold would keep the
// watermark downstream back meanwhile (measured at 20k events/s: ~4.7 firings per bucket and
// second instead of one).
//
// No pending copy can be better than a behind event: every pending copy is later than the
// emit step before the hold's (Hold is in the step of the earliest pending copy), so choosing
// among behind events and the kept IDs gives the same choice as a firing would.
func (f *dedupeFn) splitBehind(sp state.Provider, events []event.Event, hold int64, holding bool) (behind, ahead []event.Event, now time.Time, err error) {
	clock, ok, err := f.Clock.Read(sp)
	if err != nil || !ok {
		return nil, events, time.Time{}, err
	}
	now = time.UnixMilli(clock)
	bound := now
	if holding {
		if pending := emitAt(time.UnixMilli(hold)).Add(-emitStep); pending.Before(bound) {
			bound = pending
		}
	}
	for _, e := range events {
		if e.Time.After(bound) {
			ahead = append(ahead, e)
		} else {
			behind = append(behind, e)
		}
	}
	return behind, ahead, now, nil
}

func (f *dedupeFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, bucket int, timer timers.Context, emit func(beam.EventTime, event.Event)) error {
	clock, _, err := f.Clock.Read(sp)
	if err != nil {
		return err
	}
	if g, ok := strings.CutPrefix(timer.Tag, tagExpire); ok {
		gen, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return fmt.Errorf("dedupe: bad expire timer tag %q: %w", timer.Tag, err)
		}
		return f.expire(sp, tp, bucket, gen, clock)
	}
	hold, ok, err := f.Hold.Read(sp)
	if err != nil || !ok {
		return err
	}
	// The watermark has passed emitAt of the hold the timer was set for. If this bundle
	// lowered the hold since, emitAt of the new one is earlier: emitting up to it is safe.
	dueBy := emitAt(time.UnixMilli(hold))
	now := dueBy
	if now.UnixMilli() > clock {
		if err := f.Clock.Write(sp, now.UnixMilli()); err != nil {
			return err
		}
	} else {
		now = time.UnixMilli(clock)
	}
	batches, _, err := f.Pending.Read(sp)
	if err != nil {
		return err
	}
	// The best pending copy of each ID; the others are duplicates whether due or not.
	best := map[string]event.Event{}
	var dups int64
	for _, b := range batches {
		dups += pickBest(best, b.Events)
	}
	var due, rest []event.Event
	for _, e := range best {
		if e.Time.After(dueBy) {
			rest = append(rest, e)
		} else {
			due = append(due, e)
		}
	}
	if err := f.emitNew(ctx, sp, tp, bucket, due, dups, now, emit); err != nil {
		return err
	}
	if err := f.Pending.Clear(sp); err != nil {
		return err
	}
	if len(rest) == 0 {
		return f.Hold.Clear(sp)
	}
	if err := f.Pending.Add(sp, event.Batch{Events: rest}); err != nil {
		return err
	}
	earliest := earliestTime(rest)
	if err := f.Hold.Write(sp, earliest.UnixMilli()); err != nil {
		return err
	}
	f.setEmit(tp, earliest)
	return nil
}

// emitNew emits the events of due (the best copy of each of their IDs) whose IDs were not kept
// within the TTL as of now, and remembers those IDs; the others, and dups more, count as
// duplicates.
func (f *dedupeFn) emitNew(ctx context.Context, sp state.Provider, tp timers.Provider, bucket int, due []event.Event, dups int64, now time.Time, emit func(beam.EventTime, event.Event)) error {
	if len(due) > 0 {
		mem, ks, err := f.lockMemory(sp, bucket)
		if err != nil {
			return err
		}
		defer mem.mu.Unlock()
		var added [2]keptBatch
		var kept, keptGen int64 = 0, -1
		for _, e := range due {
			k := keyOf(e.ID)
			if ms, ok := mem.get(k); ok && now.Before(time.UnixMilli(ms).Add(f.TTL)) {
				dups++
				continue
			}
			if mem.evicted.has(k) {
				f.expired.Inc(ctx, 1)
			}
			kept++
			emit(mtime.FromTime(e.Time), e)
			g := f.generation(e.Time)
			added[g%2].add(k, e.Time.UnixMilli())
			keptGen = max(keptGen, g)
		}
		if kept > 0 {
			f.processed.Inc(ctx, kept)
			if err := mem.change(ks, [2]bool{}, added); err != nil {
				return err
			}
			if err := f.evictOver(ctx, mem, ks); err != nil {
				return err
			}
			if err := f.keep(sp, tp, keptGen, now); err != nil {
				return err
			}
		}
	}
	if dups > 0 {
		f.duplicates.Inc(ctx, dups)
	}
	return nil
}

// evictOver evicts the oldest IDs of a bucket that holds more than BucketIDs, down to 7/8 of
// it, so that an eviction (a rewrite of the bucket's state) happens once per BucketIDs/8 new
// IDs, not for each.
func (f *dedupeFn) evictOver(ctx context.Context, mem *bucketMemory, ks keptState) error {
	if f.BucketIDs <= 0 || int64(mem.size()) <= f.BucketIDs {
		return nil
	}
	n, err := mem.evict(ks, int(f.BucketIDs-f.BucketIDs/8))
	if err != nil {
		return err
	}
	f.evicted.Inc(ctx, int64(n))
	return nil
}

// keep records that IDs of generation g were kept at now, and sets the expire timer
// that clears the map of the next generation's parity.
func (f *dedupeFn) keep(sp state.Provider, tp timers.Provider, g int64, now time.Time) error {
	last, ok, err := f.KeptGen.Read(sp)
	if err != nil {
		return err
	}
	if !ok || g > last {
		if err := f.KeptGen.Write(sp, g); err != nil {
			return err
		}
	}
	f.setExpire(tp, f.generation(now)+1)
	return nil
}

// setExpire sets the timer that clears the kept IDs of generation g's parity just before the
// watermark enters g (expireAt). They are then only IDs kept in generation g-2 or before, or
// late ones, all past their TTL.
func (f *dedupeFn) setExpire(tp timers.Provider, g int64) {
	f.Timer.Set(tp, time.UnixMilli(f.expireAt(g)), timers.WithTag(tagExpire+strconv.FormatInt(g, 10)), timers.WithNoOutputTimestamp())
}

// expireAt is when the expire timer of generation g fires (Unix ms): 1 ms before g starts,
// so that it fires before the emit timers of g's first IDs (on whole seconds), never after
// them, which would forget those IDs.
func (f *dedupeFn) expireAt(g int64) int64 {
	return g*f.TTL.Milliseconds() - 1
}

// expire handles the expire timer of generation g: it clears the kept IDs of g's parity,
// advances the clock to g, and sets the next expire timer while the other parity may hold IDs.
func (f *dedupeFn) expire(sp state.Provider, tp timers.Provider, bucket int, g, clock int64) error {
	mem, ks, err := f.lockMemory(sp, bucket)
	if err != nil {
		return err
	}
	defer mem.mu.Unlock()
	var clear [2]bool
	clear[g%2] = true
	if err := mem.change(ks, clear, [2]keptBatch{}); err != nil {
		return err
	}
	if at := f.expireAt(g); at > clock {
		if err := f.Clock.Write(sp, at); err != nil {
			return err
		}
	}
	kept, ok, err := f.KeptGen.Read(sp)
	if err != nil {
		return err
	}
	if ok && kept >= g-1 {
		f.setExpire(tp, g+1)
	}
	return nil
}

// pickBest keeps in best the best copy of each ID of best and events (Less), and returns how
// many copies it dropped.
func pickBest(best map[string]event.Event, events []event.Event) (dropped int64) {
	for _, e := range events {
		if kept, ok := best[e.ID]; ok {
			dropped++
			if !Less(e, kept) {
				continue
			}
		}
		best[e.ID] = e
	}
	return dropped
}

// earliestTime returns the earliest event time of events (which must not be empty).
func earliestTime(events []event.Event) time.Time {
	t := events[0].Time
	for _, e := range events[1:] {
		if e.Time.Before(t) {
			t = e.Time
		}
	}
	return t
}

// streamBucketFn collects the events of a bundle into one batch per bucket of their ID, each
// timestamped with its earliest event.
type streamBucketFn struct {
	batches map[int]*event.Batch
}

func (f *streamBucketFn) StartBundle(_ func(beam.EventTime, int, event.Batch)) {
	f.batches = map[int]*event.Batch{}
}

func (f *streamBucketFn) ProcessElement(e event.Event, _ func(beam.EventTime, int, event.Batch)) {
	addToBucket(f.batches, bucketOf(e.ID, statefulBuckets), e)
}

func (f *streamBucketFn) FinishBundle(emit func(beam.EventTime, int, event.Batch)) {
	for k, b := range f.batches {
		emit(mtime.FromTime(earliestTime(b.Events)), k, *b)
	}
	f.batches = nil
}

// bucketOf returns the bucket, of n, of an event ID.
func bucketOf(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// addToBucket appends e to the batch of bucket k.
func addToBucket(batches map[int]*event.Batch, k int, e event.Event) {
	b, ok := batches[k]
	if !ok {
		b = &event.Batch{}
		batches[k] = b
	}
	b.Events = append(b.Events, e)
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
