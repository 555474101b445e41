package graph

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/parse"
)

// StreamingConfig configures the streaming chain.
type StreamingConfig struct {
	Config
	// DedupeTTL is how long (event time) an event ID is remembered; 0 means dedupe.DefaultTTL.
	DedupeTTL time.Duration
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
func Streaming(s beam.Scope, cfg StreamingConfig, raws beam.PCollection) Output {
	s = s.Scope("graph.Streaming")
	ttl := cfg.DedupeTTL
	if ttl == 0 {
		ttl = dedupe.DefaultTTL
	}
	events, dead := parse.Events(s, raws)
	kept := dedupe.Stateful(s, ttl, filter.Apply(s, cfg.Filter, events))
	enriched := enrichStreaming(s, cfg, kept)
	scored, dead := scoreEvents(s, cfg.Score, enriched, dead)
	return Output{Rows: aggregate.Speed(s, cfg.Speed, scored), DeadLetters: dead}
}

// enrichStreaming sets the events' categories from a refreshing table, or from a static side
// input when no refresh is configured.
func enrichStreaming(s beam.Scope, cfg StreamingConfig, events beam.PCollection) beam.PCollection {
	if cfg.Reference != "" && cfg.ReferenceRefresh > 0 {
		return enrich.Refreshing(s, cfg.Reference, cfg.ReferenceRefresh, cfg.Prefixes, events)
	}
	return enrich.Categories(s, beam.CreateList(s, append([]enrich.Prefix{}, cfg.Prefixes...)), events)
}
