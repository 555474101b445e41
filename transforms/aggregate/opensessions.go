package aggregate

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/internal/varcode"
	"github.com/beamline/beamline/io/views"
)

func init() {
	beam.RegisterCoder(reflect.TypeOf((*openSessions)(nil)).Elem(), encodeOpenSessions, decodeOpenSessions)
	register.DoFn6x1[context.Context, state.Provider, timers.Provider, string, pointList, func(string, Acc), error](&sessionFn{})
}

// openSession is an open session of a user, summed up: its first point (the earliest, ties
// broken by ID, as splitSessions orders them), its last event time and its event count. That
// is all a session's row needs, and all that deciding what a new point joins needs, so a
// user's state does not grow with the events of a session that never ends.
type openSession struct {
	First  point
	LastMs int64
	Events int64
}

// openSessions is a user's open sessions, in time order, each more than a session gap after
// the one before.
type openSessions struct {
	Sessions []openSession
}

// before says whether point a comes before point b (time, then ID).
func before(a, b point) bool {
	if a.TimeMs != b.TimeMs {
		return a.TimeMs < b.TimeMs
	}
	return a.ID < b.ID
}

// add adds p to the sessions: p joins, and merges, every session it is within a session gap
// of; otherwise it starts one.
func (o *openSessions) add(p point) {
	gap := SessionGap.Milliseconds()
	merged := openSession{First: p, LastMs: p.TimeMs, Events: 1}
	var out []openSession
	for _, s := range o.Sessions {
		if p.TimeMs < s.First.TimeMs-gap || p.TimeMs > s.LastMs+gap {
			out = append(out, s)
			continue
		}
		if before(s.First, merged.First) {
			merged.First = s.First
		}
		merged.LastMs = max(merged.LastMs, s.LastMs)
		merged.Events += s.Events
	}
	out = append(out, merged)
	sort.Slice(out, func(i, j int) bool { return before(out[i].First, out[j].First) })
	o.Sessions = out
}

// sessionFn keeps a user's open sessions (summed up, see openSession) and emits the
// contribution of each session once it is final (see Speed). Points reach it once each, after
// dedupe and the lateness gate.
type sessionFn struct {
	// HorizonMs: a session is final once the watermark passes its last event plus this.
	HorizonMs int64
	// FromMs: sessions that start before it are not emitted (0: none).
	FromMs int64

	Pending  state.Value[openSessions]
	Frontier state.Value[int64] // last event of the latest final session, Unix ms
	Timer    timers.EventTime

	late beam.Counter
}

func newSessionFn(horizon time.Duration, from time.Time) *sessionFn {
	f := &sessionFn{
		HorizonMs: horizon.Milliseconds(),
		Pending:   state.MakeValueState[openSessions]("open"),
		Frontier:  state.MakeValueState[int64]("frontier"),
		Timer:     timers.InEventTime("sessions"),
	}
	if !from.IsZero() {
		f.FromMs = from.UnixMilli()
	}
	return f
}

func (f *sessionFn) Setup() {
	f.late = beam.NewCounter("beamline", "late_sessions")
}

func (f *sessionFn) ProcessElement(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, in pointList, _ func(string, Acc)) error {
	pending, _, err := f.Pending.Read(sp)
	if err != nil {
		return err
	}
	frontier, hasFrontier, err := f.Frontier.Read(sp)
	if err != nil {
		return err
	}
	added := 0
	for _, p := range in.Points {
		if hasFrontier && p.TimeMs <= frontier+SessionGap.Milliseconds() {
			f.late.Inc(ctx, 1) // would join a session already final
			continue
		}
		pending.add(p)
		added++
	}
	if added == 0 {
		return nil
	}
	if err := f.Pending.Write(sp, pending); err != nil {
		return err
	}
	f.setFinal(tp, pending)
	return nil
}

// setFinal sets the timer at which the first open session becomes final.
func (f *sessionFn) setFinal(tp timers.Provider, o openSessions) {
	f.Timer.Set(tp, time.UnixMilli(o.Sessions[0].LastMs+f.HorizonMs), timers.WithTag(tagFinal))
}

func (f *sessionFn) OnTimer(ctx context.Context, fired beam.EventTime, sp state.Provider, tp timers.Provider, _ string, timer timers.Context, emit func(string, Acc)) error {
	if timer.Tag == tagGC {
		pending, ok, err := f.Pending.Read(sp)
		if err == nil && (!ok || len(pending.Sessions) == 0) {
			f.Frontier.Clear(sp)
		}
		return err
	}
	pending, _, err := f.Pending.Read(sp)
	if err != nil {
		return err
	}
	now := fired.Milliseconds() // the final timer's output timestamp is its firing time
	rest, frontier := f.emitFinal(pending.Sessions, now, emit)
	if frontier != 0 {
		if err := f.Frontier.Write(sp, frontier); err != nil {
			return err
		}
	}
	if len(rest) > 0 {
		f.setFinal(tp, openSessions{Sessions: rest})
		if frontier == 0 {
			return nil
		}
		return f.Pending.Write(sp, openSessions{Sessions: rest})
	}
	f.Pending.Clear(sp)
	f.Timer.Set(tp, time.UnixMilli(now+f.HorizonMs), timers.WithTag(tagGC), timers.WithNoOutputTimestamp())
	return nil
}

// emitFinal emits the sessions (in order) that are final at now, and returns the others and
// the last event of the latest final session (0 if none is final).
func (f *sessionFn) emitFinal(sessions []openSession, now int64, emit func(string, Acc)) (rest []openSession, frontier int64) {
	for i, s := range sessions {
		if s.LastMs+f.HorizonMs > now {
			return sessions[i:], frontier
		}
		if s.First.TimeMs >= f.FromMs {
			acc := Acc{Counts: make([]int64, 3)}
			acc.Counts[seSessions], acc.Counts[seEvents], acc.Counts[seDuration] = 1, s.Events, (s.LastMs-s.First.TimeMs)/1000
			emit(views.RowKey(views.Sessions, time.UnixMilli(s.First.TimeMs).UTC().Truncate(time.Hour), s.First.Country), acc)
		}
		frontier = s.LastMs
	}
	return nil, frontier
}

func encodeOpenSessions(o openSessions) []byte {
	b := binary.AppendUvarint(nil, uint64(len(o.Sessions)))
	for _, s := range o.Sessions {
		b = binary.AppendVarint(b, s.First.TimeMs)
		b = varcode.AppendString(b, s.First.ID)
		b = varcode.AppendString(b, s.First.Country)
		b = binary.AppendVarint(b, s.LastMs)
		b = binary.AppendVarint(b, s.Events)
	}
	return b
}

var errOpenSessions = errors.New("aggregate: bad open sessions encoding")

func decodeOpenSessions(b []byte) (openSessions, error) {
	d := varcode.NewDecoder(b)
	o := openSessions{Sessions: make([]openSession, d.Count())}
	for i := range o.Sessions {
		s := &o.Sessions[i]
		s.First.TimeMs = d.Varint()
		s.First.ID, s.First.Country = d.Str(), d.Str()
		s.LastMs, s.Events = d.Varint(), d.Varint()
	}
	if d.Err() != nil {
		return openSessions{}, errOpenSessions
	}
	return o, nil
}
