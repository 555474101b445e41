// Command streaming is the speed layer: it reads events from a source (Pub/Sub, or the built-in
// generator), archives every record it reads to the data lake, and keeps the speed views in
// the view store up to date, window by window, with early, on-time and late panes.
//
//	go run ./pipelines/streaming --source='generator://?rate=200&dup=0.02&late=0.05&bad=0.01' \
//	    --store=sqlite:///tmp/views.db --archive=/tmp/lake --deadletter=/tmp/deadletter \
//	    --reference=testdata/reference/categories.csv --run_for=5m
//
// It runs on Prism (embedded) unless --runner says otherwise. --run_for, or Ctrl-C, cancels
// the job cleanly through the job service; windows still open are not flushed (the next run's
// warm restart, or the nightly backfill, completes them). At the end it prints the job's
// counters.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"

	"github.com/beamline/beamline/io/source"
	_ "github.com/beamline/beamline/io/source/generatorsource"
	_ "github.com/beamline/beamline/io/source/pubsubsource"
	_ "github.com/beamline/beamline/io/store/sqlitestore"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/filter"
)

var (
	sourceFlag    = flag.String("source", "", "Event source URL: pubsub://projects/P/subscriptions/S or generator://?rate=N&dup=F&late=F&bad=F&seed=S.")
	storeFlag     = flag.String("store", "", "View store URL, e.g. sqlite:///var/lib/beamline/views.db.")
	archiveFlag   = flag.String("archive", "", "Raw archive (the data lake root): a directory, gs://bucket/path or s3://bucket/path.")
	deadFlag      = flag.String("deadletter", "", "Where dead letters are written: a directory, gs:// or s3:// path.")
	referenceFlag = flag.String("reference", "", "CSV of url_prefix,category for enrichment (any Beam filesystem path).")
	refreshFlag   = flag.Duration("reference_refresh", 5*time.Minute, "How often the reference CSV is read again; 0 reads it once.")
	runForFlag    = flag.Duration("run_for", 0, "Cancel the job cleanly after this long (open windows are not flushed); 0 runs until cancelled.")
	stageFlag     = flag.String("stage", "all", "Which stage to run; only 'all' (every step in one job) is built.")
	countriesFlag = flag.String("countries", "", "Comma-separated monitored countries; empty monitors all.")
	botsFlag      = flag.String("bot_patterns", strings.Join(filter.DefaultBotPatterns, ","), "Comma-separated user-agent substrings that mark bots (case-insensitive); empty disables.")
	blockedFlag   = flag.String("blocked_users", "", "Comma-separated user IDs whose events are filtered.")
	modelFlag     = flag.String("model", "", "ML model URL for scoring posts; empty scores nothing.")
	thresholdFlag = flag.Float64("score_threshold", 0, "Flag events whose score is at least this; 0 means the model's default.")
	earlyFlag     = flag.Duration("early_firing", aggregate.DefaultEarlyFiring, "Processing-time delay of early panes of the 1-minute windows.")
	latenessFlag  = flag.Duration("allowed_lateness", aggregate.DefaultAllowedLateness, "How long after a window's end late events still count; must be positive.")
	lateFlag      = flag.Duration("late_firing", aggregate.DefaultLateFiring, "Processing-time delay of late panes.")
	ttlFlag       = flag.Duration("dedupe_ttl", dedupe.DefaultTTL, "How long (event time) event IDs are remembered for dedupe.")
	ackFlag       = flag.String("ack", string(source.AckAfterArchive), "When queue messages are acknowledged: 'archive' (after the archive file holding them is closed; every runner) or 'commit' (after the runner commits the bundle; Dataflow only).")
	warmFlag      = flag.Bool("warm_restart", true, "On start, replay the archive's tail when the store has a speed watermark, so the speed views are exact again after a crash.")
	cpuProfile    = flag.String("cpuprofile", "", "Write a CPU profile of the whole run (Prism included when embedded) to this file.")
)

func main() {
	flag.Parse()
	beam.Init()
	cfg, err := config()
	if err != nil {
		fmt.Fprintf(os.Stderr, "streaming: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		slog.Error("streaming job failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg Config) error {
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	fmt.Printf("cpu %s, peak RSS %d MiB\n", cpuTime().Round(time.Millisecond), peakRSS()>>20)
	return nil
}

// cpuTime returns the CPU time (user + system) of this process so far, Prism included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set in bytes (Prism included when embedded).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // Linux reports KiB
}

func config() (Config, error) {
	if *latenessFlag <= 0 {
		return Config{}, fmt.Errorf("--allowed_lateness=%s: must be positive (Prism panics when a window closes with none)", *latenessFlag)
	}
	cfg := Config{
		Source: *sourceFlag, Store: *storeFlag, Archive: *archiveFlag, DeadLetter: *deadFlag,
		Reference: *referenceFlag, ReferenceRefresh: *refreshFlag, RunFor: *runForFlag, Stage: *stageFlag,
		Countries: list(*countriesFlag), Bots: list(*botsFlag), Blocked: list(*blockedFlag),
		Model: *modelFlag, ScoreThreshold: *thresholdFlag,
		EarlyFiring: *earlyFlag, AllowedLateness: *latenessFlag, LateFiring: *lateFlag, DedupeTTL: *ttlFlag,
		AckMode: source.AckMode(*ackFlag), WarmRestart: *warmFlag,
	}
	return cfg, cfg.Validate()
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
