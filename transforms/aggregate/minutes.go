package aggregate

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/internal/varcode"
	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/scope"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*rowSums)(nil)).Elem(), encodeRowSums, decodeRowSums)
	register.DoFn2x0[event.Event, func(beam.EventTime, int, rowSums)](&bucketSumFn{})
	register.Emitter3[beam.EventTime, int, rowSums]()
	register.DoFn7x1[context.Context, beam.EventTime, state.Provider, timers.Provider, int, rowSums, func(beam.EventTime, views.Row), error](&minuteFn{})
	register.Emitter2[beam.EventTime, views.Row]()
}

// minuteBuckets is how many keys the speed minute views are spread over: few, since Prism's
// cost is per element and per state request, but more than one so that a cluster runner
// spreads them over workers.
const minuteBuckets = 16

// Timer tags of minuteFn.
const (
	tagFire     = "fire"
	tagMinuteGC = "gc"
)

// rowSums is sums of minute contributions, by row key (Keys[i] sums to Accs[i]).
type rowSums struct {
	Keys []string
	Accs []Acc
}

func encodeRowSums(r rowSums) []byte {
	b := binary.AppendUvarint(nil, uint64(len(r.Keys)))
	for i, k := range r.Keys {
		b = varcode.AppendString(b, k)
		b = varcode.AppendBytes(b, encodeAcc(r.Accs[i]))
	}
	return b
}

var errRowSums = errors.New("aggregate: bad row sums encoding")

func decodeRowSums(b []byte) (rowSums, error) {
	d := varcode.NewDecoder(b)
	n := d.Count()
	r := rowSums{Keys: make([]string, n), Accs: make([]Acc, n)}
	for i := range r.Keys {
		r.Keys[i] = d.Str()
		acc := d.Slice()
		if d.Err() != nil {
			return rowSums{}, errRowSums
		}
		var err error
		if r.Accs[i], err = decodeAcc(acc); err != nil {
			return rowSums{}, err
		}
	}
	if d.Err() != nil {
		return rowSums{}, errRowSums
	}
	return r, nil
}

// bucketSumFn sums the minute contributions of the events of a bundle that are in Owned per
// row key, and emits one rowSums per bucket of the row key when the bundle finishes, at the
// earliest event time that contributed to it (so in its minute's window, and never behind the
// watermark its events held). One element per bucket and bundle: Prism's cost is per element,
// and the SDK's own combiner lifting keeps at most 2,000 keys per bundle and evicts at random,
// which on 300k events with ~60k distinct row keys combined almost nothing.
type bucketSumFn struct {
	// Owned is the range of event time whose events count (the zero Range: all of them); the
	// others are a batch run's context.
	Owned scope.Range

	sums sums
}

func (f *bucketSumFn) StartBundle(_ func(beam.EventTime, int, rowSums)) {
	f.sums = sums{}
}

func (f *bucketSumFn) ProcessElement(e event.Event, _ func(beam.EventTime, int, rowSums)) {
	if f.Owned.Contains(e.Time) {
		f.sums.addEvent(e)
	}
}

func (f *bucketSumFn) FinishBundle(emit func(beam.EventTime, int, rowSums)) {
	f.sums.emitByBucket(emit)
	f.sums = nil
}

// minuteFn keeps the sums of the open minute rows of one bucket of row keys and emits a
// version of each row that changed (see Speed): at the next multiple of the early-firing step
// of event time after its change, and at the end of its window, whichever comes first; late
// contributions fire at once. A row is forgotten once the watermark passes the end of its
// window plus the allowed lateness; contributions to it after that are dropped and their
// events counted as "late_events".
//
// It replaces fixed windows with triggers in accumulating mode: Prism keeps every element of
// such a window until the window expires and re-sorts all of them whenever it builds a bundle,
// which at 20k events/s took a sixth of the job's CPU and grew with the allowed lateness.
// One time domain (event time), as a DoFn with two hangs Prism.
type minuteFn struct {
	StepMs, LatenessMs int64

	Pending state.Bag[rowSums]   // contributions not yet merged into Rows
	Rows    state.Value[rowSums] // the sums of the open rows
	FireAt  state.Value[int64]   // when the fire timer is set to fire (Unix ms)
	GCAt    state.Value[int64]   // when the gc timer is set to fire (Unix ms)
	Clock   state.Value[int64]   // latest time a timer fired at: the watermark is past it
	Timer   timers.EventTime

	late beam.Counter
}

func newMinuteFn(o SpeedOptions) *minuteFn {
	return &minuteFn{
		StepMs:     o.EarlyFiring.Milliseconds(),
		LatenessMs: o.AllowedLateness.Milliseconds(),
		Pending:    state.MakeBagState[rowSums]("pending"),
		Rows:       state.MakeValueState[rowSums]("rows"),
		FireAt:     state.MakeValueState[int64]("fire_at"),
		GCAt:       state.MakeValueState[int64]("gc_at"),
		Clock:      state.MakeValueState[int64]("clock"),
		Timer:      timers.InEventTime("minutes"),
	}
}

func (f *minuteFn) Setup() {
	f.late = beam.NewCounter("beamline", "late_events")
}

// fireAt is when contributions whose earliest event is at ms fire: the next multiple of the
// step after it, or the end of its minute if that is sooner.
func (f *minuteFn) fireAt(ms int64) int64 {
	return min(ms-ms%f.StepMs+f.StepMs, minuteEnd(ms))
}

func (f *minuteFn) ProcessElement(_ context.Context, et beam.EventTime, sp state.Provider, tp timers.Provider, _ int, in rowSums, _ func(beam.EventTime, views.Row)) error {
	if len(in.Keys) == 0 {
		return nil
	}
	if err := f.Pending.Add(sp, in); err != nil {
		return err
	}
	return fireEarlier(sp, tp, &f.Timer, &f.FireAt, tagFire, f.fireAt(int64(et)))
}

func (f *minuteFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, _ int, timer timers.Context, emit func(beam.EventTime, views.Row)) error {
	firedAt := &f.FireAt
	if timer.Tag == tagMinuteGC {
		firedAt = &f.GCAt
	}
	clock, err := advanceClock(sp, firedAt, &f.Clock)
	if err != nil {
		return err
	}
	rows, err := f.merge(ctx, sp, clock)
	if err != nil {
		return err
	}
	for _, k := range sortedKeys(rows.changed) {
		row, err := rowOf(views.Speed, k, rows.sums[k])
		if err != nil {
			return err
		}
		emit(mtime.Time(clock), row) // at or after the fire timer's hold; the gc timer has none
	}
	return f.keep(sp, tp, rows.sums, clock)
}

// openRows is the open rows of a bucket and the keys that changed in this firing.
type openRows struct {
	sums    map[string]Acc
	changed map[string]bool
}

// merge adds the pending contributions to the open rows, dropping those to windows that
// closed by clock, and returns the rows.
func (f *minuteFn) merge(ctx context.Context, sp state.Provider, clock int64) (openRows, error) {
	stored, _, err := f.Rows.Read(sp)
	if err != nil {
		return openRows{}, err
	}
	rows := openRows{sums: make(map[string]Acc, len(stored.Keys)), changed: map[string]bool{}}
	for i, k := range stored.Keys {
		rows.sums[k] = stored.Accs[i]
	}
	pending, _, err := f.Pending.Read(sp)
	if err != nil {
		return openRows{}, err
	}
	var late int64
	for _, in := range pending {
		for i, k := range in.Keys {
			if f.closed(k, clock) {
				if view, _, _, _ := views.ParseRowKey(k); view == views.CountryActivity {
					late += in.Accs[i].Counts[caEvents] // every event contributes to one country row
				}
				continue
			}
			if old, ok := rows.sums[k]; ok {
				rows.sums[k] = merge(old, in.Accs[i])
			} else {
				rows.sums[k] = in.Accs[i]
			}
			rows.changed[k] = true
		}
	}
	if late > 0 {
		f.late.Inc(ctx, late)
	}
	if len(pending) > 0 {
		return rows, f.Pending.Clear(sp)
	}
	return rows, nil
}

// closed reports whether the window of row key k closed by clock.
func (f *minuteFn) closed(k string, clock int64) bool {
	return f.closesAt(k) <= clock
}

// closesAt is when the window of row key k closes: its end plus the allowed lateness.
func (f *minuteFn) closesAt(k string) int64 {
	_, start, _, _ := views.ParseRowKey(k) // keys are made by views.RowKey
	return start.Add(views.MinuteWindow).UnixMilli() + f.LatenessMs
}

// keep stores the rows still open at clock and sets the gc timer for the first of them to
// close.
func (f *minuteFn) keep(sp state.Provider, tp timers.Provider, sums map[string]Acc, clock int64) error {
	var open rowSums
	gcAt := int64(-1)
	for k, acc := range sums {
		if f.closed(k, clock) {
			continue
		}
		open.Keys, open.Accs = append(open.Keys, k), append(open.Accs, acc)
		if at := f.closesAt(k); gcAt < 0 || at < gcAt {
			gcAt = at
		}
	}
	if len(open.Keys) == 0 {
		return f.Rows.Clear(sp)
	}
	if err := f.Rows.Write(sp, open); err != nil {
		return err
	}
	set, ok, err := f.GCAt.Read(sp)
	if err != nil || (ok && set == gcAt) {
		return err
	}
	if err := f.GCAt.Write(sp, gcAt); err != nil {
		return err
	}
	f.Timer.Set(tp, time.UnixMilli(gcAt), timers.WithTag(tagMinuteGC), timers.WithNoOutputTimestamp())
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
