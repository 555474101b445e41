package pubsubsource

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/restriction"
	"github.com/beamline/beamline/io/source/internal/watermark"
	"github.com/beamline/beamline/transforms/event"
)

func init() {
	register.DoFn5x2[context.Context, *watermark.Estimator, *sdf.LockRTracker, []byte, func(beam.EventTime, source.Message), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, source.Message]()
}

// pullSize is the most messages one pull asks for (Pub/Sub returns at most 1,000).
const pullSize = 1000

// Read reads the subscription of p and returns an unbounded PCollection<source.Message>
// timestamped with event time (see the package doc); mode says who acknowledges.
func Read(s beam.Scope, p Params, mode source.AckMode) beam.PCollection {
	s = s.Scope("pubsubsource.Read")
	fn := &readFn{Project: p.Project, Subscription: p.Path(), TimestampAttribute: p.TimestampAttribute,
		Call: p.Call, MaxMessages: p.MaxMessages, Idle: p.Idle, Delay: p.Delay, AckAfterCommit: mode == source.AckAfterCommit}
	return beam.ParDo(s, fn, beam.Impulse(s))
}

// readFn reads a subscription, one bounded call at a time.
type readFn struct {
	Project            string
	Subscription       string
	TimestampAttribute string
	Call               time.Duration
	MaxMessages        int
	Idle               time.Duration
	Delay              time.Duration
	AckAfterCommit     bool

	conn       *conn
	deadline   time.Duration
	read       beam.Counter
	acked      beam.Counter
	pullErrors beam.Counter
}

func (f *readFn) Setup(ctx context.Context) error {
	c, err := open(ctx, f.Project)
	if err != nil {
		return err
	}
	f.conn, f.deadline = c, c.deadline(ctx, f.Subscription)
	f.read = beam.NewCounter("beamline", "pulled")
	f.acked = beam.NewCounter("beamline", "acked")
	f.pullErrors = beam.NewCounter("beamline", "pull_errors")
	return nil
}

func (f *readFn) Teardown() {
	if f.conn != nil {
		f.conn.close()
	}
}

func (f *readFn) CreateInitialRestriction(_ []byte) restriction.Restriction {
	return restriction.Restriction{Start: 0, End: restriction.Unbounded}
}

func (f *readFn) SplitRestriction(_ []byte, r restriction.Restriction) []restriction.Restriction {
	return []restriction.Restriction{r}
}

func (f *readFn) RestrictionSize(_ []byte, _ restriction.Restriction) float64 { return 1 }

func (f *readFn) CreateTracker(r restriction.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(restriction.NewTracker(r))
}

func (f *readFn) TruncateRestriction(_ *sdf.LockRTracker, _ []byte) restriction.Restriction {
	return restriction.Restriction{}
}

func (f *readFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ restriction.Restriction, _ []byte) watermark.State {
	return watermark.Initial()
}

func (f *readFn) CreateWatermarkEstimator(s watermark.State) *watermark.Estimator {
	return watermark.New(s)
}

func (f *readFn) WatermarkEstimatorState(e *watermark.Estimator) watermark.State { return e.State }

func (f *readFn) ProcessElement(ctx context.Context, we *watermark.Estimator, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, source.Message)) (sdf.ProcessContinuation, error) {
	r := rt.GetRestriction().(restriction.Restriction)
	if len(r.AckIDs) > 0 { // ack after commit: the previous call's bundle has been committed
		if err := f.conn.ack(ctx, f.Subscription, r.AckIDs); err != nil {
			return sdf.StopProcessing(), err
		}
		f.conn.leases.release(f.Subscription, r.AckIDs)
		f.acked.Inc(ctx, int64(len(r.AckIDs)))
	}
	if !rt.TryClaim(r.Start) {
		return sdf.StopProcessing(), rt.GetError()
	}
	c, err := f.pullCall(ctx, emit)
	if err != nil {
		return sdf.StopProcessing(), err
	}
	f.read.Inc(ctx, int64(len(c.ackIDs)))
	f.conn.leases.hold(f.Subscription, c.ackIDs, f.deadline)
	if f.AckAfterCommit { // the checkpoint's residual carries the IDs to the next call
		rt.Mu.Lock()
		rt.Rt.(*restriction.Tracker).Carry(c.ackIDs)
		rt.Mu.Unlock()
	}
	we.Observe(len(c.ackIDs), c.maxSeen, c.drained, time.Now(), f.Idle, f.Delay)
	if len(c.ackIDs) == 0 {
		return sdf.ResumeProcessingIn(100 * time.Millisecond), nil
	}
	return sdf.ResumeProcessingIn(0), nil
}

// call is what one reader call pulled.
type call struct {
	ackIDs  []string
	maxSeen int64
	drained bool // the last pull was not full
}

// pullCall pulls for up to Call or MaxMessages and emits the messages.
func (f *readFn) pullCall(ctx context.Context, emit func(beam.EventTime, source.Message)) (call, error) {
	c := call{maxSeen: watermark.NoEventTime}
	end := time.Now().Add(f.Call)
	for len(c.ackIDs) < f.MaxMessages && time.Now().Before(end) {
		msgs, err := f.conn.pull(ctx, f.Subscription, min(pullSize, f.MaxMessages-len(c.ackIDs)))
		if errors.Is(err, errTransient) {
			f.pullErrors.Inc(ctx, 1)
			slog.Warn("pubsub: pull failed; retrying in the next call", "subscription", f.Subscription, "err", err)
			c.drained = false // nothing is known about the backlog
			break
		}
		if err != nil {
			return c, err
		}
		c.drained = len(msgs) < pullSize
		for _, m := range msgs {
			t, ok := f.eventTime(m.GetMessage())
			if ok {
				c.maxSeen = max(c.maxSeen, t.UnixMilli())
			}
			emit(mtime.FromTime(t), f.message(m))
			c.ackIDs = append(c.ackIDs, m.GetAckId())
		}
		if len(msgs) == 0 {
			break
		}
	}
	return c, nil
}

// message turns a received message into a source.Message, on one line (the archive is JSON
// lines, and the speed layer must see the same bytes as the batch layer reads back).
func (f *readFn) message(m *pb.ReceivedMessage) source.Message {
	out := source.Message{Data: source.OneLine(m.GetMessage().GetData()), Source: f.Subscription + "/" + m.GetMessage().GetMessageId()}
	if !f.AckAfterCommit {
		out.AckID = m.GetAckId()
	}
	return out
}

// eventTime returns the message's event time and whether it has one; without one, its
// publish time.
func (f *readFn) eventTime(m *pb.PubsubMessage) (time.Time, bool) {
	if f.TimestampAttribute != "" {
		if t, ok := parseAttribute(m.GetAttributes()[f.TimestampAttribute]); ok {
			return t, true
		}
	} else if e, err := event.Parse(m.GetData()); err == nil {
		return e.Time, true
	}
	return m.GetPublishTime().AsTime(), false
}

// parseAttribute parses a timestamp attribute: RFC 3339 or Unix milliseconds.
func parseAttribute(v string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC().Truncate(time.Millisecond), true
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}
