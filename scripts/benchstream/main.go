// Command benchstream measures the streaming job on Prism: it runs the job's binary with the
// generator source (or, with --source=kafka, on a Kafka topic that a kfake server in this
// process holds and a producer here feeds) at a target rate for a while, watches the view store, and prints the
// sustained events/s and the delay from the end of each 1-minute window to its row being
// final in the store (p50, p99, max).
//
//	go run ./scripts/benchstream --bin=out/streaming --rate=5000 --duration=150s --out=out/bench
//
// The delay of a row is the wall-clock time of the last change of its country_activity or
// category_activity row seen by polling the store (every --poll), minus the end of its window:
// the stream has no late events, so that change is the on-time pane (or an early pane that
// already had the final counts, counted as 0). Only windows that end after the first --warmup
// of the run and at least --settle before its end count (the speed watermark the job records
// is the end of the latest minute window that the writer's watermark passed, a minute at a
// time, so it cannot time a row); a row of those windows that was still changing at the end would
// show a delay below its real one, so the report also says how far the job's generator fell
// behind. Polling costs the machine a little CPU, as a reader of the store would.
//
// A run has only a few windows, so the report also times every pane, which takes the same path
// through the job: the early panes fire when the watermark passes each multiple of the job's
// early-firing step (--early_firing among the job's flags, 5 s by default; the generator's
// event time is the wall clock) and the on-time pane at the window's end, so the delay of a
// change of a row seen at wall time t is t minus the latest multiple of the step at or before
// t (for delays under one step).
//
// The baseline, measured in the same run: the plain-Go reference (package
// io/views/reference) computes the same views over the raw archive the job wrote, in this
// process on one goroutine; the report gives the job's CPU time per event next to the
// reference's, and their ratio.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/beamline/beamline/io/store/sqlitestore"
)

func main() {
	bin := flag.String("bin", "", "the streaming job's binary (required)")
	rate := flag.Int("rate", 5000, "target events per second")
	src := flag.String("source", "generator", "the job's source: generator (the generator source, in the job) or kafka (a Kafka protocol server in this process, kfake, fed at the rate by a producer here; the job reads its topic of --partitions partitions)")
	partitions := flag.Int("partitions", 4, "partitions of the Kafka topic (--source=kafka)")
	duration := flag.Duration("duration", 150*time.Second, "how long the job runs (--run_for)")
	out := flag.String("out", "", "directory for the store, archive, dead letters and log (required)")
	reference := flag.String("reference", "testdata/reference/categories.csv", "reference CSV")
	poll := flag.Duration("poll", 100*time.Millisecond, "how often the store is polled (a row is seen up to this late)")
	warmup := flag.Duration("warmup", 30*time.Second, "windows that end earlier in the run are not measured")
	settle := flag.Duration("settle", 30*time.Second, "windows that end later than this before the end of the run are not measured")
	flag.Parse()
	if *bin == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "benchstream: --bin and --out are required")
		os.Exit(2)
	}
	if *src != "generator" && *src != "kafka" || *partitions <= 0 {
		fmt.Fprintf(os.Stderr, "benchstream: --source=%s --partitions=%d: want generator or kafka, and a positive count\n", *src, *partitions)
		os.Exit(2)
	}
	if err := checkOut(*out); err != nil {
		fmt.Fprintln(os.Stderr, "benchstream:", err)
		os.Exit(2)
	}
	res, err := run(*bin, *out, *reference, *src, int32(*partitions), *rate, *duration, *poll, *warmup, *settle, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchstream:", err)
		os.Exit(1)
	}
	if res.base, err = measureBaseline(filepath.Join(*out, "lake"), *reference); err != nil {
		fmt.Fprintln(os.Stderr, "benchstream: baseline:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
}
