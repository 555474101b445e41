// Package score scores events with a machine-learning model and sets event.Event.Score and
// event.Event.Flagged (Score >= threshold), which the views count as "flagged".
//
// # Usage
//
//	import _ "github.com/beamline/beamline/transforms/score/logreg" // embedded model driver
//	import _ "github.com/beamline/beamline/transforms/score/kserve" // remote model driver
//
//	scored, dead := score.Events(s, score.Config{Model: "logreg://testdata/model/spam.json"}, events)
//
// # Models and drivers
//
// A Model scores a batch of Features (post text, user agent, URL) at a time. Models are opened
// by URL through drivers registered by name, as database/sql drivers are (Register, Open,
// ParseURL): "logreg" is an embedded pure-Go logistic regression read from any path Beam's
// filesystem reads (logreg://testdata/model/spam.json, logreg+gs://bucket/spam.json,
// logreg+s3://bucket/spam.json); "kserve" calls a model server over the KServe v2 (Open
// Inference Protocol) REST API (kserve+http://host:8080/v2/models/spam). A worker process
// loads a model once, in the DoFn's Setup, and shares it between all its DoFn instances
// (Load).
//
// Only posts are scored (DESIGN.md: text is what ML scores); other events pass through with
// Score 0 and Flagged false, without reaching the model.
//
// # Batching
//
// The DoFn never calls the model for one element at a time: it buffers the posts of a bundle
// and calls Predict when BatchSize posts are buffered, when the oldest buffered post has waited
// MaxDelay (checked as posts arrive), and at the end of the bundle (FinishBundle). A buffer
// never outlives its bundle, so every event leaves with its own event timestamp, and the
// watermark, which cannot pass a bundle's pending input, never overtakes a buffered event:
// nothing becomes late downstream. This is why the package does not use the SDK's
// transforms/batch.GroupIntoBatches, which keys the input (a shuffle), emits a batch at the
// timestamp of the element that completed it, or at the end of the window when a timer flushes
// it, and holds no watermark for what it buffers; see the package's benchmarks.
//
// Outputs emitted in FinishBundle belong to the global window (the Go SDK cannot emit into
// another window there), so Events scores in the global window and puts the scored events back
// into their input's windowing (window function, trigger, accumulation, allowed lateness),
// which assigns the same windows again from the unchanged timestamps.
//
// # Failures
//
// A batch the model fails to score (a remote model after its last retry) goes to the dead-letter
// output with reason event.ScoreFailed; the bundle goes on. Each such event was counted as
// "processed" by dedupe, so the DoFn takes it out again ("processed" is decremented and
// "deadlettered_score_failed" incremented): the conservation line read = processed + filtered
// + duplicates + dead-lettered still counts every record once. A cancelled bundle is failed,
// not dead-lettered: the runner retries it.
//
// # Metrics
//
// Namespace "beamline": counters "scored", "flagged", "deadlettered_score_failed" (and
// "processed", decremented); distributions "score_permille" (each score x 1000),
// "score_batch_size" (events per Predict call), "score_predict_us" (latency of each Predict
// call), "score_buffer_wait_us" (how long a batch's first event waited) and
// "score_model_load_ms" (once per process, by the DoFn instance that loaded the model).
package score

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"

	"github.com/beamline/beamline/io/event"
)

// Defaults of Config.
const (
	DefaultThreshold = 0.5
	DefaultBatchSize = 64
	DefaultMaxDelay  = 500 * time.Millisecond
)

// Config configures scoring.
type Config struct {
	// Model is the model URL (see ParseURL).
	Model string
	// Threshold flags an event whose score is at least Threshold; zero means DefaultThreshold.
	Threshold float64
	// BatchSize is the most events per Predict call; zero means DefaultBatchSize.
	BatchSize int
	// MaxDelay bounds how long (processing time) a post waits in a buffer for its batch to
	// fill; zero means DefaultMaxDelay, negative disables it. The end of a bundle always
	// flushes.
	MaxDelay time.Duration
}

// Validate checks the configuration without opening the model. The model's driver must be
// registered.
func (c Config) Validate() error {
	var errs []error
	if c.Model == "" {
		errs = append(errs, errors.New("score: no model URL"))
	} else if _, _, err := ParseURL(c.Model); err != nil {
		errs = append(errs, fmt.Errorf("score: %w", err))
	}
	if c.Threshold < 0 || c.Threshold > 1 {
		errs = append(errs, fmt.Errorf("score: threshold %v is not in [0, 1]", c.Threshold))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("score: batch size %d is negative", c.BatchSize))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	return c
}

// Events scores events, a PCollection<event.Event>, and returns the events with Score and
// Flagged set (PCollection<event.Event>, each at its input timestamp and in the input's
// windowing) and the events the model failed to score (PCollection<event.DeadLetter>, in the
// global window, at the events' timestamps). It panics if cfg is invalid.
func Events(s beam.Scope, cfg Config, events beam.PCollection) (scored, deadLetters beam.PCollection) {
	s = s.Scope("score.Events")
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	if t := events.Type().Type(); t != reflect.TypeOf(event.Event{}) {
		panic(fmt.Sprintf("score.Events: input is a PCollection<%v>, want PCollection<event.Event>", t))
	}
	cfg = cfg.withDefaults()
	fn := &scoreFn{Model: cfg.Model, Threshold: cfg.Threshold, BatchSize: cfg.BatchSize, MaxDelay: cfg.MaxDelay}
	ws := events.WindowingStrategy()
	if ws.Fn.Kind == window.GlobalWindows {
		return beam.ParDo2(s, fn, events)
	}
	global := beam.WindowInto(s, window.NewGlobalWindows(), events)
	scored, deadLetters = beam.ParDo2(s, fn, global)
	return beam.WindowInto(s, ws.Fn, scored, windowOptions(ws)...), deadLetters
}

// windowOptions returns the WindowInto options that restore ws.
func windowOptions(ws *window.WindowingStrategy) []beam.WindowIntoOption {
	opts := []beam.WindowIntoOption{beam.AllowedLateness(time.Duration(ws.AllowedLateness) * time.Millisecond)}
	if ws.Trigger != nil {
		opts = append(opts, beam.Trigger(ws.Trigger))
	}
	switch ws.AccumulationMode {
	case window.Accumulating:
		opts = append(opts, beam.PanesAccumulate())
	case window.Discarding:
		opts = append(opts, beam.PanesDiscard())
	}
	return opts
}
