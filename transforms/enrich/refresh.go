package enrich

import (
	"context"
	"log/slog"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/beamline/beamline/io/event"
)

func init() {
	register.DoFn3x0[context.Context, event.Event, func(event.Event)](&refreshFn{})
}

// Refreshing sets the category of each event from the reference CSV at path, read again at the
// start of the first bundle after every interval, so a streaming job picks up a new table
// without a restart. prefixes is the table read when the pipeline was built: it serves until
// the first read in a worker, and whenever a read fails (counted as "reference_errors"; the
// last good table stays). It takes and returns a PCollection<event.Event>.
//
// Why not a side input: the Beam pattern for a periodically refreshed table is a side input in
// the global window with a repeating trigger, fed by periodic.Impulse. Prism (v2.77) rejects it
// ("Unbounded GlobalWindow Triggered SideInput, are not currently supported by Prism",
// apache/beam#31438), and a side input in fixed windows of processing time would be ready only
// at the end of each window, holding every event back by up to the interval (forever for
// events whose event time is far from now). So the DoFn refreshes its own table.
func Refreshing(s beam.Scope, path string, every time.Duration, prefixes []Prefix, events beam.PCollection) beam.PCollection {
	s = s.Scope("enrich.Refreshing")
	if every <= 0 {
		panic("enrich.Refreshing: the refresh interval must be positive")
	}
	return beam.ParDo(s, &refreshFn{Path: path, Every: every, Initial: prefixes}, events)
}

// refreshFn sets Event.Category from a table that it reads again every Every.
type refreshFn struct {
	Path    string
	Every   time.Duration
	Initial []Prefix

	table    *Table
	loaded   time.Time // when table was read; zero: the initial table
	errs     beam.Counter
	reloaded beam.Counter
}

func (f *refreshFn) Setup() {
	f.table, f.loaded = NewTable(f.Initial), time.Now()
	f.errs = beam.NewCounter("beamline", "reference_errors")
	f.reloaded = beam.NewCounter("beamline", "reference_reads")
}

func (f *refreshFn) StartBundle(ctx context.Context, _ func(event.Event)) {
	if time.Since(f.loaded) < f.Every {
		return
	}
	f.loaded = time.Now()
	prefixes, err := ReadCSV(ctx, f.Path)
	if err != nil {
		f.errs.Inc(ctx, 1)
		slog.Warn("enrich: refreshing the reference failed; keeping the last table", "path", f.Path, "err", err)
		return
	}
	f.table = NewTable(prefixes)
	f.reloaded.Inc(ctx, 1)
}

func (f *refreshFn) ProcessElement(_ context.Context, e event.Event, emit func(event.Event)) {
	e.Category = f.table.Category(e.URL)
	emit(e)
}
