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

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/pull"
	"github.com/beamline/beamline/io/source/internal/watermark"
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
		Call: p.Call, MaxMessages: p.Max, Idle: p.Idle, Delay: p.Delay, AckAfterCommit: mode == source.AckAfterCommit}
	return beam.ParDo(s, fn, beam.Impulse(s))
}

// readFn reads a subscription, one bounded call at a time.
type readFn struct {
	pull.SDF

	Project            string
	Subscription       string
	TimestampAttribute string
	Call               time.Duration
	MaxMessages        int
	Idle               time.Duration
	Delay              time.Duration
	AckAfterCommit     bool

	conn     *conn
	deadline time.Duration
	counters pull.Counters
}

func (f *readFn) Setup(ctx context.Context) error {
	c, err := open(ctx, f.Project)
	if err != nil {
		return err
	}
	f.conn, f.deadline = c, c.deadline(ctx, f.Subscription)
	f.counters = pull.NewCounters()
	return nil
}

func (f *readFn) Teardown() {
	if f.conn != nil {
		f.conn.close()
	}
}

func (f *readFn) ProcessElement(ctx context.Context, we *watermark.Estimator, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, source.Message)) (sdf.ProcessContinuation, error) {
	return pull.Process(ctx, we, rt, f, pull.Options{Idle: f.Idle, Delay: f.Delay, AckAfterCommit: f.AckAfterCommit,
		Counters: f.counters}, emit)
}

// Ack acknowledges ids and ends their leases (pull.Queue).
func (f *readFn) Ack(ctx context.Context, ids []string) error {
	if err := f.conn.ack(ctx, f.Subscription, ids); err != nil {
		return err
	}
	f.conn.leases.Release(f.Subscription, ids)
	return nil
}

// Hold starts the leases of ids (pull.Queue).
func (f *readFn) Hold(ids []string) { f.conn.leases.Hold(f.Subscription, ids, f.deadline) }

// Pull pulls for up to Call or MaxMessages and emits the messages (pull.Queue); the call is
// drained when its last pull was not full.
func (f *readFn) Pull(ctx context.Context, emit func(beam.EventTime, source.Message)) (pull.Call, error) {
	c := pull.Call{MaxSeen: watermark.NoEventTime}
	end := time.Now().Add(f.Call)
	for len(c.IDs) < f.MaxMessages && time.Now().Before(end) {
		msgs, err := f.conn.pull(ctx, f.Subscription, min(pullSize, f.MaxMessages-len(c.IDs)))
		if errors.Is(err, errTransient) {
			f.counters.Errors.Inc(ctx, 1)
			slog.Warn("pubsub: pull failed; retrying in the next call", "subscription", f.Subscription, "err", err)
			c.Drained = false // nothing is known about the backlog
			break
		}
		if err != nil {
			return c, err
		}
		c.Drained = len(msgs) < pullSize
		for _, m := range msgs {
			t, ok := f.eventTime(m.GetMessage())
			if ok {
				c.MaxSeen = max(c.MaxSeen, t.UnixMilli())
			}
			emit(mtime.FromTime(t), f.message(m))
			c.IDs = append(c.IDs, m.GetAckId())
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
