package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
	"github.com/google/uuid"

	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
	"github.com/beamline/beamline/pipelines/internal/jobservice"
	"github.com/beamline/beamline/pipelines/internal/livemetrics"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/score"
)

// Config is one streaming job: where records come from and where everything goes.
type Config struct {
	Source     string
	Store      string
	Archive    string
	DeadLetter string
	Reference  string // URL-prefix -> category CSV; empty: every category is unknown
	// ReferenceRefresh is how often the reference is read again; 0 reads it once.
	ReferenceRefresh time.Duration
	// RunFor cancels the job after this long; 0 runs until cancelled.
	RunFor time.Duration
	// Stage is the part of the job to run (StageAll when empty; see Stages).
	Stage string
	// OutputTopic is the topic the ingest and score stages publish their events to (package
	// topic); the other stages have none.
	OutputTopic string
	Countries   []string
	Bots        []string
	Blocked     []string
	// MetricsAddr, when set, is where the job serves its counters as Prometheus metrics while
	// it runs (host:port, path /metrics; see pipelines/internal/livemetrics).
	MetricsAddr string
	// MetricsEvery is how often those counters are read from the job service (0: 5 s).
	MetricsEvery time.Duration
	// MaxRecordBytes is the size limit of a record (0: event.DefaultMaxRecordBytes); larger
	// ones are dead-lettered as too_large without being parsed.
	MaxRecordBytes int
	// Model is the ML model URL (score.ParseURL); empty: nothing is scored.
	Model          string
	ScoreThreshold float64
	// EarlyFiring, AllowedLateness: see aggregate.SpeedOptions (0: defaults).
	EarlyFiring     time.Duration
	AllowedLateness time.Duration
	// DedupeTTL is how long event IDs are remembered (0: 24 h).
	DedupeTTL time.Duration
	// DedupeMaxIDs is dedupe's state budget (dedupe.Options.MaxIDs; 0: no limit).
	DedupeMaxIDs int64
	// AckMode says who acknowledges raw queue messages in the stages that archive them (all,
	// ingest; see source.AckMode). The other stages acknowledge after commit.
	AckMode source.AckMode
	// WarmRestart replays the archive's tail on start when the store has a speed watermark
	// (see Plan).
	WarmRestart bool
	// MaxSessionReplay is how far before the speed watermark a warm restart follows sessions
	// still open (0: DedupeTTL); a longer session is left out of the speed layer.
	MaxSessionReplay time.Duration
}

// dedupeTTL is the dedupe TTL, with the default filled in.
func (c Config) dedupeTTL() time.Duration {
	if c.DedupeTTL <= 0 {
		return dedupe.DefaultTTL
	}
	return c.DedupeTTL
}

// maxSessionReplay is MaxSessionReplay, with the default filled in.
func (c Config) maxSessionReplay() time.Duration {
	if c.MaxSessionReplay <= 0 {
		return c.dedupeTTL()
	}
	return c.MaxSessionReplay
}

func (c Config) lateness() time.Duration {
	if c.AllowedLateness == 0 {
		return aggregate.DefaultAllowedLateness
	}
	return c.AllowedLateness
}

func (c Config) speed() aggregate.SpeedOptions {
	return aggregate.SpeedOptions{EarlyFiring: c.EarlyFiring, AllowedLateness: c.lateness()}
}

func (c Config) score() score.Config {
	return score.Config{Model: c.Model, Threshold: c.ScoreThreshold}
}

// Validate checks what can be checked without touching any system.
func (c Config) Validate() error {
	var errs []error
	required := []struct{ flag, value, example string }{
		{"--source", c.Source, "generator://?rate=100, pubsub://projects/P/subscriptions/S, kafka://HOST:PORT/TOPIC?group=G or sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE"},
		{"--deadletter", c.DeadLetter, "a directory, gs:// or s3:// path"},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, fmt.Errorf("%s is required (%s)", r.flag, r.example))
		}
	}
	errs = append(errs, c.validateStage()...)
	if c.Source != "" {
		if err := source.Validate(c.Source, source.Options{AckMode: c.ackMode()}); err != nil {
			errs = append(errs, fmt.Errorf("--source/--ack: %w", err))
		}
	}
	if err := c.speed().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--early_firing/--allowed_lateness: %w", err))
	}
	if c.RunFor < 0 || c.DedupeTTL < 0 || c.ReferenceRefresh < 0 || c.DedupeMaxIDs < 0 || c.MaxSessionReplay < 0 {
		errs = append(errs, errors.New("--run_for, --dedupe_ttl, --dedupe_max_ids, --max_session_replay and --reference_refresh must not be negative"))
	} else if c.DedupeTTL > 0 && c.DedupeTTL < time.Millisecond {
		errs = append(errs, fmt.Errorf("--dedupe_ttl=%v: must be at least 1ms (or 0 for the default)", c.DedupeTTL))
	}
	if c.MaxRecordBytes < 0 {
		errs = append(errs, fmt.Errorf("--max_record_bytes=%d is negative: give a size in bytes, or 0 for the default", c.MaxRecordBytes))
	}
	if c.Model != "" && (c.stage() == StageAll || c.stage() == StageScore) {
		if err := c.score().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--model/--score_threshold: %w", err))
		}
	}
	return errors.Join(errs...)
}

// metricsEvery is how often live metrics are read, with the default filled in.
func (c Config) metricsEvery() time.Duration {
	if c.MetricsEvery <= 0 {
		return 5 * time.Second
	}
	return c.MetricsEvery
}

// Run runs the streaming job until cfg.RunFor has passed, ctx is done (both cancel the job
// cleanly through the job service), or the source ends.
func Run(ctx context.Context, cfg Config) (Report, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	plan, err := planRun(ctx, cfg)
	if err != nil {
		return Report{}, fmt.Errorf("streaming: %w", err)
	}
	prefixes, err := readReference(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	endpoint, err := jobservice.Endpoint(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("streaming: %w", err)
	}
	name, restore := jobrun.JobOptions("beamline-streaming-"+uuid.NewString()[:8], noSplits)
	defer restore()
	slog.Info("streaming: starting", "job", name, "stage", cfg.stage(), "source", redact(cfg.Source), "speed_watermark", plan.Watermark,
		"replay_from", plan.ReplayFrom, "replay_files", len(plan.Files))

	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg, plan, prefixes, time.Now())
	if cfg.MetricsAddr != "" {
		if endpoint == "" {
			return Report{}, fmt.Errorf("streaming: --metrics_addr needs a job service (Prism, Flink): this runner shows its metrics in its own UI")
		}
		live, cancelLive := context.WithCancel(ctx)
		defer cancelLive()
		var gauges []livemetrics.Gauge
		if cfg.Store != "" {
			gauges = watermarkGauges(live, cfg.Store)
		}
		addr, err := livemetrics.Start(live, cfg.MetricsAddr, endpoint, name, cfg.metricsEvery(), gauges...)
		if err != nil {
			return Report{}, fmt.Errorf("streaming: %w", err)
		}
		slog.Info("streaming: serving live metrics", "url", "http://"+addr+"/metrics")
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		stopAfter(ctx, done, endpoint, name, cfg.RunFor)
	}()
	res, err := beamx.RunWithMetrics(context.WithoutCancel(ctx), p)
	close(done)
	<-stopped
	if err != nil {
		return Report{}, fmt.Errorf("streaming job %s: %w", name, err)
	}
	rep := Report{Job: name, Stage: cfg.stage(), Plan: plan, Elapsed: time.Since(start), Counters: map[string]int64{}}
	if res == nil {
		rep.NotRun = true
		return rep, nil
	}
	rep.Counters = jobrun.Counters(res)
	return rep, nil
}

func readReference(ctx context.Context, cfg Config) ([]enrich.Prefix, error) {
	if !cfg.ownsArchive() {
		return nil, nil // enrichment is the ingest stage's
	}
	if cfg.Reference == "" {
		slog.Warn("streaming: no --reference given: every category is unknown")
		return nil, nil
	}
	prefixes, err := enrich.ReadCSV(ctx, cfg.Reference)
	if err != nil {
		return nil, fmt.Errorf("streaming: %w", err)
	}
	return prefixes, nil
}

// redact hides a source URL's password, if any.
func redact(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "...@" + raw[i+1:]
		}
	}
	return raw
}
