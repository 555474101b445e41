package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
	"github.com/beamline/beamline/transforms/filter"
)

// Report is what a backfill did.
type Report struct {
	Run          string
	Started      time.Time
	Files        int
	Read         int64
	Processed    int64
	Duplicates   int64
	Filtered     map[string]int64
	DeadLettered map[string]int64
	Views        map[string]ViewSummary
	// Context is the records read from neighbouring days that other runs own (not in Read).
	Context int64
	// SessionsAtHorizon counts the sessions of the run's days that may go on past its lookahead.
	SessionsAtHorizon int64
	// LakeBytes is the size of the files of the run's days; CorruptFiles of them, holding
	// CorruptBytes, were quarantined (--on_corrupt_file=quarantine).
	LakeBytes, CorruptFiles, CorruptBytes int64
	// Quality is the run's quality report (its gates decide whether it is published).
	Quality Quality
	// Swept is what retention deleted after the run was published.
	Swept   store.Swept
	Elapsed time.Duration
	// NotRun is set when the runner only printed or saved the job (Dataflow's --dry_run or
	// --template_location): nothing was computed or published.
	NotRun bool
}

// ViewSummary sums a view's additive metrics over the backfilled days.
type ViewSummary struct {
	Rows    int
	Metrics map[string]int64
}

// Lost is read minus everything accounted for; anything but 0 is a bug.
func (r Report) Lost() int64 {
	return r.Read - r.Processed - r.Duplicates - sum(r.Filtered) - sum(r.DeadLettered)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func report(res beam.PipelineResult) Report {
	counts := jobrun.Counters(res)
	rep := Report{Read: counts["read"], Processed: counts["processed"], Duplicates: counts["duplicates"],
		Context: counts["context"], SessionsAtHorizon: counts["sessions_at_horizon"],
		LakeBytes: counts["lake_bytes"], CorruptFiles: counts["corrupt_files"], CorruptBytes: counts["corrupt_bytes"],
		Filtered: map[string]int64{}, DeadLettered: map[string]int64{}}
	for _, n := range filter.Names {
		rep.Filtered[n] = counts["filtered_"+n]
	}
	for _, r := range event.Reasons {
		rep.DeadLettered[string(r)] = counts["deadlettered_"+string(r)]
	}
	return rep
}

// summarize reads the published rows of the backfilled days back from the store.
func summarize(ctx context.Context, st *store.Store, cfg Config) (map[string]ViewSummary, error) {
	out := map[string]ViewSummary{}
	for _, spec := range views.All() {
		rows, err := st.Query(ctx, store.Query{View: spec.Name, Layer: views.Batch, From: cfg.From, To: cfg.To.AddDate(0, 0, 1)})
		if err != nil {
			return nil, fmt.Errorf("backfill: read back %s: %w", spec.Name, err)
		}
		vs := ViewSummary{Rows: len(rows), Metrics: map[string]int64{}}
		for _, r := range rows {
			for _, m := range spec.Metrics {
				if m.Additive {
					vs.Metrics[m.Name] += r.Metrics[m.Name]
				}
			}
		}
		out[spec.Name] = vs
	}
	return out, nil
}

// Print writes the report: one line per view, then the conservation line and its details.
func (r Report) Print(w io.Writer) {
	if r.NotRun {
		fmt.Fprintf(w, "run %s not run and not published: the runner only printed or saved the job (%d files)\n", r.Run, r.Files)
		return
	}
	for _, spec := range views.All() {
		vs := r.Views[spec.Name]
		fmt.Fprintf(w, "%-18s rows=%d", spec.Name, vs.Rows)
		for _, m := range spec.Metrics {
			if m.Additive {
				fmt.Fprintf(w, " %s=%d", m.Name, vs.Metrics[m.Name])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d\n",
		r.Read, r.Processed, sum(r.Filtered), r.Duplicates, sum(r.DeadLettered))
	fmt.Fprintf(w, "filtered by: %s; dead-lettered by: %s\n", jobrun.Counts(r.Filtered, "%s %d", ", "), jobrun.Counts(r.DeadLettered, "%s %d", ", "))
	fmt.Fprintf(w, "context %d (records of neighbouring days' runs, read for dedupe and sessions, not counted above)", r.Context)
	if r.CorruptFiles > 0 {
		fmt.Fprintf(w, "; %d corrupt files quarantined (%d of %d bytes)", r.CorruptFiles, r.CorruptBytes, r.LakeBytes)
	}
	if r.SessionsAtHorizon > 0 {
		fmt.Fprintf(w, "; %d sessions reach the lookahead and may go on past it", r.SessionsAtHorizon)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Quality)
	if r.Swept != (store.Swept{}) {
		fmt.Fprintf(w, "retention: deleted %d speed rows of published days and %d rows of unpublished runs\n", r.Swept.SpeedRows, r.Swept.BatchRows)
	}
	fmt.Fprintf(w, "run %s published: %d files in %s (%.0f events/s)\n", r.Run, r.Files, r.Elapsed.Round(time.Millisecond), float64(r.Read)/max(r.Elapsed.Seconds(), 1e-3))
}
