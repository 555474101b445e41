package sqssource

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/pull"
	"github.com/beamline/beamline/io/source/internal/watermark"
)

func init() {
	register.DoFn5x2[context.Context, *watermark.Estimator, *sdf.LockRTracker, []byte, func(beam.EventTime, source.Message), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, source.Message]()
}

// Read reads the queue of p and returns an unbounded PCollection<source.Message> timestamped
// with event time (see the package doc); mode says who acknowledges.
func Read(s beam.Scope, p Params, mode source.AckMode) beam.PCollection {
	s = s.Scope("sqssource.Read")
	fn := &readFn{Region: p.Region, QueueURL: p.QueueURL(), Queue: p.Queue, Call: p.Call, MaxMessages: p.Max,
		Idle: p.Idle, Delay: p.Delay, Visibility: p.Visibility, Receivers: p.Receivers, AckAfterCommit: mode == source.AckAfterCommit}
	return beam.ParDo(s, fn, beam.Impulse(s))
}

// readFn reads a queue, one bounded call at a time.
type readFn struct {
	pull.SDF

	Region         string
	QueueURL       string
	Queue          string
	Call           time.Duration
	MaxMessages    int
	Idle           time.Duration
	Delay          time.Duration
	Visibility     time.Duration
	Receivers      int
	AckAfterCommit bool

	conn     *conn
	counters pull.Counters
}

func (f *readFn) Setup(ctx context.Context) error {
	c, err := open(ctx, f.Region)
	if err != nil {
		return err
	}
	if err := c.check(ctx, f.QueueURL); err != nil {
		c.close()
		return err
	}
	f.conn = c
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

// Ack deletes the messages of receipt handles and ends their leases (pull.Queue).
func (f *readFn) Ack(ctx context.Context, handles []string) error {
	if err := f.conn.delete(ctx, f.QueueURL, handles); err != nil {
		return err
	}
	f.conn.leases.Release(f.QueueURL, handles)
	return nil
}

// Hold starts the leases of handles (pull.Queue).
func (f *readFn) Hold(handles []string) { f.conn.leases.Hold(f.QueueURL, handles, f.Visibility) }

// Pull receives for up to Call or MaxMessages, first with one long poll, then in rounds of
// Receivers concurrent receives, until a round returns nothing, and emits the messages
// (pull.Queue); the call is drained when a receive of its last round was not full. The IDs
// are receipt handles.
func (f *readFn) Pull(ctx context.Context, emit func(beam.EventTime, source.Message)) (pull.Call, error) {
	c := pull.Call{MaxSeen: watermark.NoEventTime}
	end := time.Now().Add(f.Call)
	for first := true; len(c.IDs) < f.MaxMessages && (first || time.Now().Before(end)); first = false {
		receivers := min(f.Receivers, (f.MaxMessages-len(c.IDs)+batchSize-1)/batchSize)
		if first {
			receivers = 1 // a long poll: an idle queue costs one request a call
		}
		msgs, full, err := f.round(ctx, wait(time.Until(end), first), receivers)
		if errors.Is(err, errTransient) {
			f.counters.Errors.Inc(ctx, 1)
			slog.Warn("sqs: receive failed; retrying in the next call", "queue", f.QueueURL, "err", err)
			c.Drained = false // nothing is known about the backlog
		} else if err != nil {
			return c, err
		} else {
			c.Drained = !full
		}
		now := time.Now()
		for _, m := range msgs {
			rec := recordOf(m, now)
			if rec.hasEvent {
				c.MaxSeen = max(c.MaxSeen, rec.at.UnixMilli())
			}
			emit(mtime.FromTime(rec.at), f.message(m, rec))
			c.IDs = append(c.IDs, aws.ToString(m.ReceiptHandle))
		}
		if err != nil || len(msgs) == 0 {
			break
		}
	}
	return c, nil
}

// wait is the long poll of a round: what is left of the call in whole seconds (SQS's unit),
// and at least a second in a call's first round, so that an empty queue is not polled in a
// busy loop.
func wait(left time.Duration, first bool) time.Duration {
	w := min(left.Truncate(time.Second), maxWait)
	if first {
		w = max(w, time.Second)
	}
	return max(w, 0)
}

// round runs n receives at once and returns what they received (in
// their order), whether every receive was full, and the first error. The messages of the
// receives that succeeded are returned with an error too: they are hidden now, and dropping
// them would delay them by a visibility timeout.
func (f *readFn) round(ctx context.Context, wait time.Duration, n int) ([]types.Message, bool, error) {
	n = max(n, 1)
	got := make([][]types.Message, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = f.conn.receive(ctx, f.QueueURL, wait, f.Visibility)
		}()
	}
	wg.Wait()
	var msgs []types.Message
	full := true
	for i := range n {
		msgs = append(msgs, got[i]...)
		full = full && errs[i] == nil && len(got[i]) == batchSize
	}
	return msgs, full, errors.Join(errs...)
}

// message turns a received message into a source.Message.
func (f *readFn) message(m types.Message, rec record) source.Message {
	out := source.Message{Data: rec.data, Source: f.Queue + "/" + aws.ToString(m.MessageId)}
	if !f.AckAfterCommit {
		out.AckID = aws.ToString(m.ReceiptHandle)
	}
	return out
}
