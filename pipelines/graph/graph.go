// Package graph builds the chain of shared transforms that both jobs run:
// parse (with dead letters) -> filter -> dedupe -> enrich -> aggregate into views.
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
)

// Config configures the shared chain.
type Config struct {
	// Filter selects the events that are dropped early.
	Filter filter.Config
	// Prefixes is the reference table for enrichment (URL prefix -> category).
	Prefixes []enrich.Prefix
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
	return Output{Rows: aggregate.Views(s, views.Batch, enriched), DeadLetters: dead}
}

// nonNil returns prefixes, or an empty slice in place of nil (beam.CreateList needs a slice).
func nonNil(prefixes []enrich.Prefix) []enrich.Prefix {
	if prefixes == nil {
		return []enrich.Prefix{}
	}
	return prefixes
}
