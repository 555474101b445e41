package main

import (
	"fmt"
	"io"
	"time"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
	"github.com/beamline/beamline/transforms/filter"
)

// Report is what a run did, from the job's metrics.
type Report struct {
	Job string
	// Stage is the stage that ran (see Stages).
	Stage    string
	Plan     Plan
	Counters map[string]int64
	Elapsed  time.Duration
	// NotRun is set when the runner only printed or saved the job (Dataflow's --dry_run or
	// --template_location): nothing ran, and there are no counters.
	NotRun bool
}

// stage returns the stage that ran, StageAll when none is set.
func (r Report) stage() string {
	if r.Stage == "" {
		return StageAll
	}
	return r.Stage
}

// Print writes the report: the stage's counts, then every counter.
func (r Report) Print(w io.Writer) {
	c := r.Counters
	var filtered, dead int64
	for _, n := range filter.Names {
		filtered += c["filtered_"+n]
	}
	for _, reason := range event.Reasons {
		dead += c["deadlettered_"+string(reason)]
	}
	if r.NotRun {
		fmt.Fprintf(w, "job %s was not run: the runner only printed or saved it (dry run or template)\n", r.Job)
		return
	}
	fmt.Fprintf(w, "job %s (stage %s) ran %s\n", r.Job, r.stage(), r.Elapsed.Round(time.Millisecond))
	switch r.stage() {
	case StageIngest:
		fmt.Fprintf(w, "read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d (events still in dedupe when the job stopped are in none)\n",
			c["read"], c["processed"], filtered, c["duplicates"], dead)
		fmt.Fprintf(w, "archived %d, acked %d, published %d\n", c["archived"], c["acked"], c["published"])
	case StageScore:
		fmt.Fprintf(w, "received %d, scored %d, flagged %d, dead-lettered %d, published %d, acked %d\n",
			c["received"], c["scored"], c["flagged"], dead, c["published"], c["acked"])
	case StageAggregate:
		fmt.Fprintf(w, "received %d, processed %d, duplicates %d (delivered again by the topic), dead-lettered %d, acked %d (events still in dedupe or open windows when the job stopped are in none)\n",
			c["received"], c["processed"], c["duplicates"], dead, c["acked"])
		fmt.Fprintf(w, "rows written %d, superseded %d, late for sessions %d\n", c["rows_written"], c["rows_superseded"], c["late_sessions"])
	default:
		fmt.Fprintf(w, "read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d (events still in dedupe or open windows when the job stopped are in none)\n",
			c["read"], c["processed"], filtered, c["duplicates"], dead)
		fmt.Fprintf(w, "archived %d, acked %d, rows written %d, superseded %d, late for sessions %d\n",
			c["archived"], c["acked"], c["rows_written"], c["rows_superseded"], c["late_sessions"])
	}
	fmt.Fprintf(w, "counters: %s\n", jobrun.Counts(c, "%s=%d", " "))
}
