package kafkasource

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/restriction"
	"github.com/beamline/beamline/io/source/internal/watermark"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*start)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(start), error](&startsFn{})
	register.Emitter1[start]()
	register.DoFn5x2[context.Context, *watermark.Estimator, *sdf.LockRTracker, start, func(beam.EventTime, source.Message), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, source.Message]()
}

// Read reads the topic of p and returns an unbounded PCollection<source.Message> timestamped
// with event time (see the package doc); mode says who acknowledges.
func Read(s beam.Scope, p Params, mode source.AckMode) beam.PCollection {
	s = s.Scope("kafkasource.Read")
	starts := beam.ParDo(s, &startsFn{Params: p}, beam.Impulse(s))
	return beam.ParDo(s, &readFn{Params: p, AckAfterCommit: mode == source.AckAfterCommit}, starts)
}

// startsFn emits where the reader of each partition starts.
type startsFn struct {
	Params Params
}

func (f *startsFn) ProcessElement(ctx context.Context, _ []byte, emit func(start)) error {
	a, err := newAdmin(f.Params)
	if err != nil {
		return err
	}
	defer a.close()
	starts, err := a.starts(ctx)
	if err != nil {
		return err
	}
	for _, st := range starts {
		slog.Info("kafka: reading partition", "topic", f.Params.Topic, "partition", st.Partition, "from", st.Offset, "group", f.Params.Group)
		emit(st)
	}
	return nil
}

// readFn reads one partition per element, one bounded call at a time.
type readFn struct {
	Params         Params
	AckAfterCommit bool

	pool                       *pool
	admin                      *admin
	read, committed, pollFails beam.Counter
}

func (f *readFn) Setup() error {
	a, err := newAdmin(f.Params)
	if err != nil {
		return err
	}
	f.admin, f.pool = a, acquirePool(f.Params)
	f.read = beam.NewCounter("beamline", "pulled")
	f.committed = beam.NewCounter("beamline", "acked")
	f.pollFails = beam.NewCounter("beamline", "pull_errors")
	return nil
}

func (f *readFn) Teardown() {
	if f.pool != nil {
		f.pool.release()
	}
	if f.admin != nil {
		f.admin.close()
	}
}

func (f *readFn) CreateInitialRestriction(st start) restriction.Restriction {
	return restriction.Restriction{Start: st.Offset, End: restriction.Unbounded}
}

func (f *readFn) SplitRestriction(_ start, r restriction.Restriction) []restriction.Restriction {
	return []restriction.Restriction{r}
}

func (f *readFn) RestrictionSize(_ start, _ restriction.Restriction) float64 { return 1 }

func (f *readFn) CreateTracker(r restriction.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(restriction.NewTracker(r))
}

func (f *readFn) TruncateRestriction(_ *sdf.LockRTracker, _ start) restriction.Restriction {
	return restriction.Restriction{}
}

func (f *readFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ restriction.Restriction, _ start) watermark.State {
	return watermark.Initial()
}

func (f *readFn) CreateWatermarkEstimator(s watermark.State) *watermark.Estimator {
	return watermark.New(s)
}

func (f *readFn) WatermarkEstimatorState(e *watermark.Estimator) watermark.State { return e.State }

func (f *readFn) ProcessElement(ctx context.Context, we *watermark.Estimator, rt *sdf.LockRTracker, st start, emit func(beam.EventTime, source.Message)) (sdf.ProcessContinuation, error) {
	r := rt.GetRestriction().(restriction.Restriction)
	if len(r.AckIDs) > 0 { // ack after commit: the previous call's bundle has been committed
		if err := f.commitCarried(ctx, r.AckIDs); err != nil {
			return sdf.StopProcessing(), err
		}
	}
	pr, unlock, err := f.pool.reader(st.Partition, r.Start)
	if err != nil {
		return sdf.StopProcessing(), err
	}
	defer unlock()
	c, err := f.readCall(ctx, pr, rt, r.Start, emit)
	if err != nil {
		return sdf.StopProcessing(), err
	}
	f.read.Inc(ctx, int64(c.n))
	if f.AckAfterCommit && c.n > 0 { // the checkpoint's residual carries the last span
		rt.Mu.Lock()
		rt.Rt.(*restriction.Tracker).Carry([]string{c.last})
		rt.Mu.Unlock()
	}
	if c.n == 0 {
		// Idle only if the partition's end is known to be reached: an unreachable broker
		// must not close windows.
		end, err := f.admin.end(ctx, st.Partition)
		if err != nil {
			f.pollFails.Inc(ctx, 1)
			slog.Warn("kafka: cannot read the partition's end; the watermark holds", "topic", f.Params.Topic, "partition", st.Partition, "err", err)
			return sdf.ResumeProcessingIn(time.Second), nil
		}
		we.Observe(0, c.maxSeen, end <= pr.next, time.Now(), f.Params.Idle, f.Params.Delay)
		return sdf.ResumeProcessingIn(100 * time.Millisecond), nil
	}
	we.Observe(c.n, c.maxSeen, pr.hwm >= 0 && pr.next >= pr.hwm, time.Now(), f.Params.Idle, f.Params.Delay)
	return sdf.ResumeProcessingIn(0), nil
}

// call is what one reader call read.
type call struct {
	n       int
	maxSeen int64
	last    string // the AckID of the last record
}

// readCall reads from the restriction's start for up to Call or Max, or until it has caught up
// with the partition's end, claiming each record's offset, and emits the records.
func (f *readFn) readCall(ctx context.Context, pr *partitionReader, rt *sdf.LockRTracker, from int64, emit func(beam.EventTime, source.Message)) (call, error) {
	c := call{maxSeen: watermark.NoEventTime}
	deadline := time.Now().Add(f.Params.Call)
	for c.n < f.Params.Max && time.Now().Before(deadline) {
		recs, err := pr.poll(ctx, deadline, f.Params.Max-c.n)
		if err != nil {
			return c, err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if !rt.TryClaim(rec.Offset) {
				return c, rt.GetError()
			}
			t, ok := eventTime(rec)
			if ok {
				c.maxSeen = max(c.maxSeen, t.UnixMilli())
			}
			c.last = ackID(rec.Partition, from, rec.Offset)
			m := source.Message{Data: source.OneLine(rec.Value), Source: f.Params.Topic + "/" + strconv.Itoa(int(rec.Partition)) + "/" + strconv.FormatInt(rec.Offset, 10)}
			if !f.AckAfterCommit {
				m.AckID = c.last
			}
			emit(mtime.FromTime(t), m)
			from = rec.Offset + 1
			c.n++
		}
		if pr.hwm >= 0 && pr.next >= pr.hwm {
			break // caught up: end the bundle now, so what was read is committed without waiting
		}
	}
	return c, nil
}

// commitCarried commits the offsets after the spans of ids (ack after commit).
func (f *readFn) commitCarried(ctx context.Context, ids []string) error {
	offsets := map[int32]int64{}
	for _, id := range ids {
		s, err := parseAckID(id)
		if err != nil {
			return err
		}
		offsets[s.partition] = max(offsets[s.partition], s.to)
	}
	if err := f.admin.commit(ctx, offsets); err != nil {
		return err
	}
	f.committed.Inc(ctx, int64(len(ids)))
	return nil
}

// eventTime returns the record's event time and whether it has one; without one, the record's
// Kafka timestamp.
func eventTime(rec *kgo.Record) (time.Time, bool) {
	if e, err := event.Parse(rec.Value); err == nil {
		return e.Time, true
	}
	return rec.Timestamp.UTC().Truncate(time.Millisecond), false
}

// pool holds a process's partition readers of one topic, shared by its DoFn instances: a
// partition is read by one call at a time, and a reader that is already where the next call
// starts keeps what it fetched ahead.
type pool struct {
	key   string
	p     Params
	refs  int
	parts map[int32]*pooled
}

// pooled is one partition's reader and the lock that one call holds.
type pooled struct {
	mu sync.Mutex
	r  *partitionReader
}

var pools = struct {
	mu sync.Mutex
	m  map[string]*pool
}{m: map[string]*pool{}}

func acquirePool(p Params) *pool {
	pools.mu.Lock()
	defer pools.mu.Unlock()
	key := fmt.Sprint(p.Brokers, p.Topic)
	pl, ok := pools.m[key]
	if !ok {
		pl = &pool{key: key, p: p, parts: map[int32]*pooled{}}
		pools.m[key] = pl
	}
	pl.refs++
	return pl
}

// release drops one reference; the last one closes the readers.
func (pl *pool) release() {
	pools.mu.Lock()
	defer pools.mu.Unlock()
	if pl.refs--; pl.refs > 0 {
		return
	}
	delete(pools.m, pl.key)
	for _, pp := range pl.parts {
		pp.mu.Lock()
		if pp.r != nil {
			pp.r.close()
		}
		pp.mu.Unlock()
	}
}

// reader returns the reader of partition, positioned at offset, locked; call unlock when done.
// A reader elsewhere (a retried bundle, another worker's progress) is replaced by a new one.
func (pl *pool) reader(partition int32, offset int64) (*partitionReader, func(), error) {
	pools.mu.Lock()
	pp, ok := pl.parts[partition]
	if !ok {
		pp = &pooled{}
		pl.parts[partition] = pp
	}
	pools.mu.Unlock()
	pp.mu.Lock()
	if pp.r != nil && pp.r.next != offset {
		pp.r.close()
		pp.r = nil
	}
	if pp.r == nil {
		r, err := openPartition(pl.p, partition, offset)
		if err != nil {
			pp.mu.Unlock()
			return nil, nil, err
		}
		pp.r = r
	}
	return pp.r, pp.mu.Unlock, nil
}
