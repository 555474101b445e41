package graph

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/parse"
	"github.com/beamline/beamline/transforms/score"
)

// StreamingConfig configures the streaming chain.
type StreamingConfig struct {
	Config
	// DedupeTTL is how long (event time) an event ID is remembered; 0 means dedupe.DefaultTTL.
	DedupeTTL time.Duration
	// DedupeMaxIDs is dedupe's state budget (dedupe.Options.MaxIDs; 0: no limit).
	DedupeMaxIDs int64
	// Speed configures the windows, triggers and lateness of the speed views.
	Speed aggregate.SpeedOptions
	// Reference is the path of the reference CSV that Prefixes was read from. With a positive
	// ReferenceRefresh, workers read it again that often (enrich.Refreshing); otherwise
	// Prefixes is a static side input.
	Reference        string
	ReferenceRefresh time.Duration
}

// Streaming runs the chain over raws, an unbounded PCollection<event.Raw> in the global window
// timestamped with event time, and returns versions of speed-layer rows (see aggregate.Speed)
// in the global window, and the dead letters.
//
// Dedupe is stateful (dedupe.Stateful), so duplicates count once across panes and bundles for
// the TTL; Config.Filter.From, when set, drops (as out_of_range) events older than what a
// restarted job can rebuild.
//
// The split stages of the streaming job (Ingest, Score, Aggregate) run the same transforms,
// one job each, with topics between them.
func Streaming(s beam.Scope, cfg StreamingConfig, raws beam.PCollection) Output {
	s = s.Scope("graph.Streaming")
	enriched, dead := ingest(s, cfg, raws)
	scored, dead := scoreEvents(s, cfg.Score, enriched, dead)
	return Output{Rows: aggregate.Speed(s, cfg.Speed, scored), DeadLetters: dead}
}

// Ingest is the first stage of the split streaming job: the steps of Streaming up to scoring
// (parse, filter, dedupe, enrich) over raws, as Streaming takes them. It returns the enriched
// events (PCollection<event.Event> in the global window, each at its event time, emitted by
// dedupe once the watermark passes it) and the parse failures (PCollection<event.DeadLetter>).
func Ingest(s beam.Scope, cfg StreamingConfig, raws beam.PCollection) (events, deadLetters beam.PCollection) {
	s = s.Scope("graph.Ingest")
	return ingest(s, cfg, raws)
}

// Score is the score stage of the split streaming job: it scores events (PCollection<event.Event>
// in the global window) as Streaming does and returns the scored events and the events the
// model failed to score (PCollection<event.DeadLetter>). It panics if cfg names no model: a
// score stage without one has nothing to do.
func Score(s beam.Scope, cfg score.Config, events beam.PCollection) (scored, deadLetters beam.PCollection) {
	s = s.Scope("graph.Score")
	if cfg.Model == "" {
		panic("graph.Score: no model to score with")
	}
	return score.Events(s, cfg, events)
}

// Aggregate is the last stage of the split streaming job: it computes the speed views from
// events (PCollection<event.Event> in the global window, each at its event time) as Streaming
// does, after removing the copies of an event ID that the topics between the stages deliver
// more than once (dedupe.Stateful, with cfg.DedupeTTL), and returns versions of speed-layer rows
// (see aggregate.Speed).
func Aggregate(s beam.Scope, cfg StreamingConfig, events beam.PCollection) beam.PCollection {
	s = s.Scope("graph.Aggregate")
	return aggregate.Speed(s, cfg.Speed, dedupe.Stateful(s, cfg.dedupe(), events))
}

// ingest parses, filters, dedupes and enriches raws.
func ingest(s beam.Scope, cfg StreamingConfig, raws beam.PCollection) (events, deadLetters beam.PCollection) {
	events, dead := parse.Events(s, cfg.MaxRecordBytes, raws)
	kept := dedupe.Stateful(s, cfg.dedupe(), filter.Apply(s, cfg.Filter, events))
	return enrichStreaming(s, cfg, kept), dead
}

// dedupe returns the options of dedupe.Stateful, with the default TTL filled in.
func (cfg StreamingConfig) dedupe() dedupe.Options {
	return dedupe.Options{TTL: ttlOrDefault(cfg.DedupeTTL), MaxIDs: cfg.DedupeMaxIDs}
}

// enrichStreaming sets the events' categories from a refreshing table, or from a static side
// input when no refresh is configured.
func enrichStreaming(s beam.Scope, cfg StreamingConfig, events beam.PCollection) beam.PCollection {
	if cfg.Reference != "" && cfg.ReferenceRefresh > 0 {
		return enrich.Refreshing(s, cfg.Reference, cfg.ReferenceRefresh, cfg.Prefixes, events)
	}
	return enrich.Categories(s, beam.CreateList(s, append([]enrich.Prefix{}, cfg.Prefixes...)), events)
}
