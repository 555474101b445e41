package score

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn5x1[context.Context, beam.EventTime, event.Event, func(beam.EventTime, event.Event), func(beam.EventTime, event.DeadLetter), error](&scoreFn{})
	register.Emitter2[beam.EventTime, event.Event]()
	register.Emitter2[beam.EventTime, event.DeadLetter]()
}

// pending is a buffered post and its timestamp.
type pending struct {
	ts beam.EventTime
	e  event.Event
}

// scoreFn scores posts in batches: see the package doc.
type scoreFn struct {
	Model     string
	Threshold float64
	BatchSize int
	MaxDelay  time.Duration

	model    Model
	loadTook time.Duration // reported with the first element, then zero
	buf      []pending
	feats    []Features
	first    time.Time // when buf[0] arrived
	now      func() time.Time
	m        metrics
}

// metrics are the DoFn's Beam metrics (see the package doc).
type metrics struct {
	scored, flagged, failed, processed          beam.Counter
	scores, batch, predict, bufferWait, modelMs beam.Distribution
}

func newMetrics() metrics {
	const ns = "beamline"
	return metrics{
		scored:     beam.NewCounter(ns, "scored"),
		flagged:    beam.NewCounter(ns, "flagged"),
		failed:     beam.NewCounter(ns, "deadlettered_"+string(event.ScoreFailed)),
		processed:  beam.NewCounter(ns, "processed"),
		scores:     beam.NewDistribution(ns, "score_permille"),
		batch:      beam.NewDistribution(ns, "score_batch_size"),
		predict:    beam.NewDistribution(ns, "score_predict_us"),
		bufferWait: beam.NewDistribution(ns, "score_buffer_wait_us"),
		modelMs:    beam.NewDistribution(ns, "score_model_load_ms"),
	}
}

// Setup loads the model, shared by the process (Load).
func (f *scoreFn) Setup(ctx context.Context) error {
	m, took, err := load(ctx, f.Model)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	f.model, f.loadTook, f.m = m, took, newMetrics()
	if f.now == nil {
		f.now = time.Now
	}
	return nil
}

// ProcessElement passes events that are not posts through and buffers posts, scoring the
// buffer when it is full or its oldest post has waited MaxDelay.
func (f *scoreFn) ProcessElement(ctx context.Context, ts beam.EventTime, e event.Event, emit func(beam.EventTime, event.Event), dead func(beam.EventTime, event.DeadLetter)) error {
	if f.loadTook > 0 { // Setup has no metrics context: report the load with the first element
		f.m.modelMs.Update(ctx, f.loadTook.Milliseconds())
		f.loadTook = 0
	}
	if e.Type != event.TypePost {
		emit(ts, e)
		return nil
	}
	now := f.now()
	if len(f.buf) == 0 {
		f.first = now
	}
	f.buf = append(f.buf, pending{ts: ts, e: e})
	if len(f.buf) >= f.BatchSize || (f.MaxDelay > 0 && now.Sub(f.first) >= f.MaxDelay) {
		return f.flush(ctx, emit, dead)
	}
	return nil
}

// FinishBundle scores what the bundle left in the buffer.
func (f *scoreFn) FinishBundle(ctx context.Context, emit func(beam.EventTime, event.Event), dead func(beam.EventTime, event.DeadLetter)) error {
	return f.flush(ctx, emit, dead)
}

// flush scores the buffer and emits every buffered post at its own timestamp, scored or
// dead-lettered. It fails only when ctx is done (the bundle is being cancelled).
func (f *scoreFn) flush(ctx context.Context, emit func(beam.EventTime, event.Event), dead func(beam.EventTime, event.DeadLetter)) error {
	if len(f.buf) == 0 {
		return nil
	}
	f.feats = f.feats[:0]
	for _, p := range f.buf {
		f.feats = append(f.feats, Features{Text: p.e.Text, UserAgent: p.e.UserAgent, URL: p.e.URL})
	}
	start := f.now()
	f.m.bufferWait.Update(ctx, start.Sub(f.first).Microseconds())
	scores, err := f.model.Predict(ctx, f.feats)
	f.m.predict.Update(ctx, f.now().Sub(start).Microseconds())
	f.m.batch.Update(ctx, int64(len(f.buf)))
	if err == nil && len(scores) != len(f.buf) {
		err = fmt.Errorf("model returned %d scores for %d events", len(scores), len(f.buf))
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("score %d events with %s: %w", len(f.buf), f.Model, err)
	}
	for i, p := range f.buf {
		switch {
		case err != nil:
			f.deadLetter(ctx, p, err, dead)
		case !(scores[i] >= 0 && scores[i] <= 1): // NaN too
			f.deadLetter(ctx, p, fmt.Errorf("model returned score %v, not in [0, 1]", scores[i]), dead)
		default:
			e := p.e
			e.Score, e.Flagged = scores[i], float64(scores[i]) >= f.Threshold
			f.m.scored.Inc(ctx, 1)
			f.m.scores.Update(ctx, int64(math.Round(float64(e.Score)*1000)))
			if e.Flagged {
				f.m.flagged.Inc(ctx, 1)
			}
			emit(p.ts, e)
		}
	}
	clear(f.buf)
	f.buf = f.buf[:0]
	return nil
}

// deadLetter sends p to the dead letters and takes it out of the processed count.
func (f *scoreFn) deadLetter(ctx context.Context, p pending, err error, dead func(beam.EventTime, event.DeadLetter)) {
	f.m.failed.Inc(ctx, 1)
	f.m.processed.Dec(ctx, 1)
	dead(p.ts, event.DeadLetter{
		Raw:    p.e.Raw,
		Reason: string(event.ScoreFailed),
		Detail: fmt.Sprintf("score with %s: %v", f.Model, err),
		Source: "event_id=" + p.e.ID,
	})
}
