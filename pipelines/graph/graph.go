// Package graph builds the chain of shared transforms that both jobs run:
// parse (with dead letters) -> filter -> dedupe -> enrich -> score (when a model is configured,
// with dead letters) -> aggregate into views.
//
// The jobs differ only at the edges (where records come from, where rows go) and in how dedupe
// and windowing behave in a bounded or unbounded pipeline.
package graph

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/parse"
	"github.com/beamline/beamline/transforms/score"
)

// Config configures the shared chain.
type Config struct {
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

// Batch runs the chain over raws, a bounded PCollection<event.Raw> in the global window, and
// returns batch-layer rows.
func Batch(s beam.Scope, cfg Config, raws beam.PCollection) Output {
	s = s.Scope("graph.Batch")
	events, dead := parse.Events(s, raws)
	kept := dedupe.ByID(s, filter.Apply(s, cfg.Filter, events))
	prefixes := beam.CreateList(s, nonNil(cfg.Prefixes))
	enriched := enrich.Categories(s, prefixes, kept)
	scored, dead := scoreEvents(s, cfg.Score, enriched, dead)
	return Output{Rows: aggregate.Views(s, views.Batch, scored), DeadLetters: dead}
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

// nonNil returns prefixes, or an empty slice in place of nil (beam.CreateList needs a slice).
func nonNil(prefixes []enrich.Prefix) []enrich.Prefix {
	if prefixes == nil {
		return []enrich.Prefix{}
	}
	return prefixes
}
