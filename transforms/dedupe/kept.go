package dedupe

import (
	"context"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/beamline/beamline/io/event"
)

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
