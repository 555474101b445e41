package dedupe

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/event"
)

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
