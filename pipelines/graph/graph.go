// Package graph builds the chain of shared transforms that both jobs run:
// parse (with dead letters) -> filter -> dedupe -> enrich -> score (when a model is configured,
// with dead letters) -> aggregate into views.
//
// The jobs differ only at the edges (where records come from, where rows go) and in how dedupe
// and windowing behave in a bounded or unbounded pipeline.
package graph

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/parse"
	"github.com/beamline/beamline/transforms/scope"
	"github.com/beamline/beamline/transforms/score"
)

// Config configures the shared chain.
type Config struct {
	// MaxRecordBytes is the size limit of a record: larger ones are dead-lettered as too_large
	// without being parsed; 0 means event.DefaultMaxRecordBytes.
	MaxRecordBytes int
	// Filter selects the events that are dropped early.
	Filter filter.Config
	// Prefixes is the reference table for enrichment (URL prefix -> category).
	Prefixes []enrich.Prefix
	// Score configures ML scoring; an empty Score.Model scores nothing (flagged stays 0).
	Score score.Config
}

// Output is what the chain produces.
type Output struct {
	// Rows is a PCollection<views.Row>.
	Rows beam.PCollection
	// DeadLetters is a PCollection<event.DeadLetter>.
	DeadLetters beam.PCollection
}

// BatchConfig configures the chain of a batch run.
type BatchConfig struct {
	Config
	// Scope is what the run owns and the context it reads (package scope).
	Scope scope.Config
	// DedupeTTL is how far (event time) a copy of an ID decides later copies; 0 means
	// dedupe.DefaultTTL.
	DedupeTTL time.Duration
	// SpillDir, when set, is a local directory that the events and session points cross their
	// groupings through (package spill), so that the runner's memory does not grow with the
	// day. Only for a runner whose workers all run on this machine (Prism).
	SpillDir string
}

// Batch runs the chain over raws, a bounded PCollection<event.Raw> of lake records in the
// global window, and returns the batch-layer rows of the days that cfg.Scope owns. Context
// events take part in dedupe and sessions only: they are not enriched, scored, counted or
// dead-lettered. The reference table travels in the enrich DoFn (enrich.Fixed), not as the
// streaming job's side input: a bounded run reads it once, and on Prism the side input cost
// 28% of the batch job's CPU.
func Batch(s beam.Scope, cfg BatchConfig, raws beam.PCollection) Output {
	s = s.Scope("graph.Batch")
	owned := cfg.Scope.Owned
	events, dead := parse.Scoped(s, cfg.Scope, cfg.MaxRecordBytes, raws)
	f := cfg.Filter
	f.Owned = owned
	parts := dedupe.ByIDInParts(s, ttlOrDefault(cfg.DedupeTTL), cfg.Scope, filter.Apply(s, f, events), cfg.SpillDir, dedupeParts)
	var toAggregate []beam.PCollection
	for _, kept := range parts {
		mine, context := scope.Split(s, owned, kept)
		var scored beam.PCollection
		scored, dead = scoreEvents(s, cfg.Score, enrich.Fixed(s, cfg.Prefixes, mine), dead)
		toAggregate = append(toAggregate, scored, context)
	}
	return Output{Rows: aggregate.Views(s, views.Batch, cfg.Scope, cfg.SpillDir, toAggregate...), DeadLetters: dead}
}

// dedupeParts is how many separate groupings the batch dedupe uses (dedupe.ByIDInParts): each
// part's dedupe, enrichment, scoring and sums run as a stage of their own, in parallel on
// Prism, which runs a grouping's keys as one bundle on one core.
const dedupeParts = 4

// ttlOrDefault returns ttl, or dedupe.DefaultTTL for 0.
func ttlOrDefault(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return dedupe.DefaultTTL
	}
	return ttl
}

// scoreEvents scores events when cfg names a model, and adds the events it could not score to
// dead (both PCollections in the global window).
func scoreEvents(s beam.Scope, cfg score.Config, events, dead beam.PCollection) (scored, allDead beam.PCollection) {
	if cfg.Model == "" {
		return events, dead
	}
	scored, failed := score.Events(s, cfg, events)
	return scored, beam.Flatten(s, dead, failed)
}
