package aggregate

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/internal/varcode"
	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/bucket"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*pointList)(nil)).Elem(), encodePoints, decodePoints)
	register.DoFn6x1[beam.EventTime, state.Provider, timers.Provider, int, pointBatch, func(beam.EventTime, string, pointList), error](&gateFn{})
	register.Emitter3[beam.EventTime, string, pointList]()
	register.DoFn2x0[event.Event, func(beam.EventTime, int, pointBatch)](&minutePointsFn{})
	register.Emitter3[beam.EventTime, int, pointBatch]()
	register.Emitter2[string, pointList]()
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, Acc, func(views.Row), error](&sessionSumFn{})
}

// sessionMargin is added to the finalization horizon of a session, beyond the lateness
// gate's own horizon, for panes in flight.
const sessionMargin = time.Minute

// sessionTTL is how long (event time) after its last contribution an hourly sessions sum is
// kept.
const sessionTTL = 24 * time.Hour

// Timer tags of the sessions DoFns.
const (
	tagFinal = "final"
	tagGC    = "gc"
)

// speedSessions returns the versions of the sessions rows (PCollection<views.Row>, global
// window) computed from events (see Speed).
func speedSessions(s beam.Scope, o SpeedOptions, events beam.PCollection) beam.PCollection {
	s = s.Scope("sessions")
	points := beam.ParDo(s, &minutePointsFn{}, events)
	perUser := beam.ParDo(s, newGateFn(o.AllowedLateness), points)
	horizon := SessionGap + o.AllowedLateness + time.Minute + sessionMargin
	final := beam.ParDo(s, newSessionFn(horizon, o.SessionsFrom), perUser)
	return beam.ParDo(s, newSessionSumFn(), final)
}

// pointList is the session points of one user.
type pointList struct {
	Points []point
}

func encodePoints(l pointList) []byte {
	b := binary.AppendUvarint(nil, uint64(len(l.Points)))
	for _, p := range l.Points {
		b = binary.AppendVarint(b, p.TimeMs)
		b = varcode.AppendString(b, p.ID)
		b = varcode.AppendString(b, p.Country)
	}
	return b
}

var errPoints = errors.New("aggregate: bad point list encoding")

func decodePoints(b []byte) (pointList, error) {
	d := varcode.NewDecoder(b)
	l := pointList{Points: make([]point, d.Count())}
	for i := range l.Points {
		l.Points[i] = point{TimeMs: d.Varint(), ID: d.Str(), Country: d.Str()}
	}
	if d.Err() != nil {
		return pointList{}, errPoints
	}
	return l, nil
}

// minutePointsFn collects the session points of a bundle into one batch per bucket of the
// user and minute of event time, each at its earliest point's time: one element per bucket,
// minute and bundle instead of one per event, since Prism's cost is per element.
type minutePointsFn struct {
	batches bucket.Batches[bucketMinute, pointBatch]
}

// bucketMinute is a bucket of users and a minute of event time (Unix minutes).
type bucketMinute struct {
	bucket int
	minute int64
}

func (f *minutePointsFn) StartBundle(_ func(beam.EventTime, int, pointBatch)) {
	f.batches = bucket.Batches[bucketMinute, pointBatch]{}
}

func (f *minutePointsFn) ProcessElement(e event.Event, _ func(beam.EventTime, int, pointBatch)) {
	k := bucketMinute{bucket: userBucket(e.UserID), minute: e.Time.UnixMilli() / time.Minute.Milliseconds()}
	f.batches.Get(k).add(e)
}

func (f *minutePointsFn) FinishBundle(emit func(beam.EventTime, int, pointBatch)) {
	f.batches.Flush(func(k bucketMinute, b pointBatch) {
		earliest := b.Points[0].TimeMs
		for _, p := range b.Points[1:] {
			earliest = min(earliest, p.TimeMs)
		}
		emit(mtime.Time(earliest), k.bucket, b)
	})
}

// gateFn is the sessions' lateness gate, per bucket of users: it holds the points of a minute
// of event time until the watermark passes the end of that minute, then emits them, one
// pointList per user; points that arrive later are emitted at once, until the watermark passes
// the end of their minute plus the allowed lateness, after which they are dropped (the minute
// views count their events as "late_events"). So an event counts in sessions when it counts in
// the minute views (both drop by the watermark their own timers have seen, so an event right
// at the edge can be kept by one and dropped by the other), and sessionFn gets one element per
// user and minute, not one per event.
// Like minuteFn, it replaces fixed windows with a trigger, which Prism re-sorts per bundle.
type gateFn struct {
	LatenessMs int64

	Pending state.Bag[pointBatch]
	FireAt  state.Value[int64] // when the fire timer is set to fire (Unix ms)
	CloseAt state.Value[int64] // when the close timer is set to fire (Unix ms)
	Clock   state.Value[int64] // latest time a timer fired at: the watermark is past it
	Timer   timers.EventTime
}

// Timer tags of gateFn: the fire timer emits due points; the close timer (no hold) only moves
// the clock past the end of the latest minute emitted plus the allowed lateness, so that
// points of that minute are dropped after it even when nothing else fires.
const (
	tagGateFire  = "fire"
	tagGateClose = "close"
)

func newGateFn(lateness time.Duration) *gateFn {
	return &gateFn{
		LatenessMs: lateness.Milliseconds(),
		Pending:    state.MakeBagState[pointBatch]("pending"),
		FireAt:     state.MakeValueState[int64]("fire_at"),
		CloseAt:    state.MakeValueState[int64]("close_at"),
		Clock:      state.MakeValueState[int64]("clock"),
		Timer:      timers.InEventTime("gate"),
	}
}

// minuteEnd returns the end of the minute of ms.
func minuteEnd(ms int64) int64 {
	m := time.Minute.Milliseconds()
	return ms - ms%m + m
}

func (f *gateFn) ProcessElement(et beam.EventTime, sp state.Provider, tp timers.Provider, _ int, b pointBatch, _ func(beam.EventTime, string, pointList)) error {
	if len(b.Points) == 0 {
		return nil
	}
	if err := f.Pending.Add(sp, b); err != nil {
		return err
	}
	return fireEarlier(sp, tp, &f.Timer, &f.FireAt, tagGateFire, minuteEnd(int64(et)))
}

// setClose makes the close timer fire at at, unless it is set to fire later.
func (f *gateFn) setClose(sp state.Provider, tp timers.Provider, at int64) error {
	set, ok, err := f.CloseAt.Read(sp)
	if err != nil || (ok && set >= at) {
		return err
	}
	if err := f.CloseAt.Write(sp, at); err != nil {
		return err
	}
	f.Timer.Set(tp, time.UnixMilli(at), timers.WithTag(tagGateClose), timers.WithNoOutputTimestamp())
	return nil
}

func (f *gateFn) OnTimer(sp state.Provider, tp timers.Provider, _ int, timer timers.Context, emit func(beam.EventTime, string, pointList)) error {
	firedAt := &f.FireAt
	if timer.Tag == tagGateClose {
		firedAt = &f.CloseAt
	}
	clock, err := advanceClock(sp, firedAt, &f.Clock)
	if err != nil {
		return err
	}
	batches, _, err := f.Pending.Read(sp)
	if err != nil {
		return err
	}
	due := map[string][]point{}
	var rest pointBatch
	next, closeAt := int64(-1), int64(-1)
	for _, b := range batches {
		for i, p := range b.Points {
			end := minuteEnd(p.TimeMs)
			switch {
			case end+f.LatenessMs <= clock: // too late
			case end <= clock:
				due[b.Users[i]] = append(due[b.Users[i]], p)
				closeAt = max(closeAt, end+f.LatenessMs)
			default:
				rest.Users, rest.Points = append(rest.Users, b.Users[i]), append(rest.Points, p)
				if next < 0 || end < next {
					next = end
				}
			}
		}
	}
	for user, points := range due {
		emit(mtime.Time(clock), user, pointList{Points: points})
	}
	if closeAt >= 0 {
		if err := f.setClose(sp, tp, closeAt); err != nil {
			return err
		}
	}
	if len(batches) == 0 {
		return nil
	}
	if err := f.Pending.Clear(sp); err != nil {
		return err
	}
	if len(rest.Points) == 0 {
		return nil
	}
	if err := f.Pending.Add(sp, rest); err != nil {
		return err
	}
	return fireEarlier(sp, tp, &f.Timer, &f.FireAt, tagGateFire, next)
}

// sessionSumFn sums the final sessions of one sessions row and emits the row after each.
type sessionSumFn struct {
	Sum   state.Value[Acc]
	Timer timers.EventTime
}

func newSessionSumFn() *sessionSumFn {
	return &sessionSumFn{Sum: state.MakeValueState[Acc]("sum"), Timer: timers.InEventTime("gc")}
}

func (f *sessionSumFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, key string, c Acc, emit func(views.Row)) error {
	sum, ok, err := f.Sum.Read(sp)
	if err != nil {
		return err
	}
	if ok {
		c = merge(sum, c)
	}
	if err := f.Sum.Write(sp, c); err != nil {
		return err
	}
	row, err := rowOf(views.Speed, key, c)
	if err != nil {
		return err
	}
	emit(row)
	f.Timer.Set(tp, row.WindowEnd.Add(sessionTTL), timers.WithNoOutputTimestamp())
	return nil
}

func (f *sessionSumFn) OnTimer(_ context.Context, sp state.Provider, _ timers.Provider, _ string, _ timers.Context, _ func(views.Row)) error {
	f.Sum.Clear(sp)
	return nil
}
