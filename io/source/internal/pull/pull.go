// Package pull is the splittable-DoFn side that the pull-queue readers share (Pub/Sub, SQS):
// one unbounded restriction per job, read in bounded calls that checkpoint themselves, with the
// shared watermark estimator, leases on what was read, and acknowledgement after commit carried
// in the checkpoint's residual (see package restriction and source.AckMode). A driver's DoFn
// embeds SDF for the restriction and watermark methods and calls Process from its
// ProcessElement with its Queue.
package pull

import (
	"context"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/source/internal/restriction"
	"github.com/beamline/beamline/io/source/internal/watermark"
)

// Queue is a driver's side of one reader call.
type Queue interface {
	// Pull reads for one bounded call and emits each message (carrying its AckID unless the
	// reader acknowledges after commit).
	Pull(ctx context.Context, emit func(beam.EventTime, source.Message)) (Call, error)
	// Ack acknowledges the messages of ids and ends their leases.
	Ack(ctx context.Context, ids []string) error
	// Hold starts the leases of ids: their deadlines are extended until they are acknowledged.
	Hold(ids []string)
}

// Call is what one reader call read.
type Call struct {
	// IDs are the ack IDs of the messages read.
	IDs []string
	// MaxSeen is the largest event time read (Unix ms; watermark.NoEventTime if none).
	MaxSeen int64
	// Drained says whether the call read everything the queue held.
	Drained bool
}

// Options are what Process needs of the reader's parameters.
type Options struct {
	Idle, Delay    time.Duration
	AckAfterCommit bool
	Counters
}

// Counters are the counters of the queue readers (namespace "beamline").
type Counters struct {
	// Read counts the messages read ("pulled"), Acked those acknowledged after commit
	// ("acked"), Errors the failed calls that the next call retries ("pull_errors").
	Read, Acked, Errors beam.Counter
}

// NewCounters returns the counters, for a reader's Setup.
func NewCounters() Counters {
	return Counters{Read: beam.NewCounter("beamline", "pulled"), Acked: beam.NewCounter("beamline", "acked"),
		Errors: beam.NewCounter("beamline", "pull_errors")}
}

// Process runs one reader call: it acknowledges what the previous call's residual carries
// (after commit), pulls, holds leases on what it read, carries its IDs in the residual (after
// commit), moves the watermark, and checkpoints itself.
func Process(ctx context.Context, we *watermark.Estimator, rt *sdf.LockRTracker, q Queue, o Options, emit func(beam.EventTime, source.Message)) (sdf.ProcessContinuation, error) {
	r := rt.GetRestriction().(restriction.Restriction)
	if len(r.AckIDs) > 0 { // ack after commit: the previous call's bundle has been committed
		if err := q.Ack(ctx, r.AckIDs); err != nil {
			return sdf.StopProcessing(), err
		}
		o.Acked.Inc(ctx, int64(len(r.AckIDs)))
	}
	if !rt.TryClaim(r.Start) {
		return sdf.StopProcessing(), rt.GetError()
	}
	c, err := q.Pull(ctx, emit)
	if err != nil {
		return sdf.StopProcessing(), err
	}
	o.Read.Inc(ctx, int64(len(c.IDs)))
	q.Hold(c.IDs)
	if o.AckAfterCommit { // the checkpoint's residual carries the IDs to the next call
		rt.Mu.Lock()
		rt.Rt.(*restriction.Tracker).Carry(c.IDs)
		rt.Mu.Unlock()
	}
	we.Observe(len(c.IDs), c.MaxSeen, c.Drained, time.Now(), o.Idle, o.Delay)
	if len(c.IDs) == 0 {
		return sdf.ResumeProcessingIn(100 * time.Millisecond), nil
	}
	return sdf.ResumeProcessingIn(0), nil
}

// SDF has the restriction and watermark methods of a pull-queue reader whose element is an
// impulse: one unbounded restriction of call positions that never splits.
type SDF struct{}

// CreateInitialRestriction returns the unbounded restriction.
func (SDF) CreateInitialRestriction(_ []byte) restriction.Restriction {
	return restriction.Restriction{Start: 0, End: restriction.Unbounded}
}

// SplitRestriction returns r whole.
func (SDF) SplitRestriction(_ []byte, r restriction.Restriction) []restriction.Restriction {
	return []restriction.Restriction{r}
}

// RestrictionSize is 1: the size of an unbounded read is unknown.
func (SDF) RestrictionSize(_ []byte, _ restriction.Restriction) float64 { return 1 }

// CreateTracker returns the tracker of r.
func (SDF) CreateTracker(r restriction.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(restriction.NewTracker(r))
}

// TruncateRestriction drops the rest of the read when the job drains.
func (SDF) TruncateRestriction(_ *sdf.LockRTracker, _ []byte) restriction.Restriction {
	return restriction.Restriction{}
}

// InitialWatermarkEstimatorState is the state of a reader that has read nothing.
func (SDF) InitialWatermarkEstimatorState(_ beam.EventTime, _ restriction.Restriction, _ []byte) watermark.State {
	return watermark.Initial()
}

// CreateWatermarkEstimator returns the estimator of s.
func (SDF) CreateWatermarkEstimator(s watermark.State) *watermark.Estimator {
	return watermark.New(s)
}

// WatermarkEstimatorState returns e's state.
func (SDF) WatermarkEstimatorState(e *watermark.Estimator) watermark.State { return e.State }
