package main

// The streaming job's flags (DESIGN.md lists them) and the Config they make.

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/filter"
)

var (
	sourceFlag    = flag.String("source", "", "Event source URL: pubsub://projects/P/subscriptions/S, kafka://HOST:PORT[,HOST:PORT...]/TOPIC?group=G, sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE or generator://?rate=N&dup=F&late=F&bad=F&seed=S.")
	storeFlag     = flag.String("store", "", "View store URL, e.g. sqlite:///var/lib/beamline/views.db.")
	archiveFlag   = flag.String("archive", "", "Raw archive (the data lake root): a directory, gs://bucket/path or s3://bucket/path.")
	deadFlag      = flag.String("deadletter", "", "Where dead letters are written: a directory, gs:// or s3:// path.")
	referenceFlag = flag.String("reference", "", "CSV of url_prefix,category for enrichment (any Beam filesystem path).")
	refreshFlag   = flag.Duration("reference_refresh", 5*time.Minute, "How often the reference CSV is read again; 0 reads it once.")
	runForFlag    = flag.Duration("run_for", 0, "Cancel the job cleanly after this long (open windows are not flushed); 0 runs until cancelled.")
	stageFlag     = flag.String("stage", StageAll, "Which stage to run: 'all' (every step in one job), or one of the jobs the streaming job splits into: 'ingest' (read, archive, parse, filter, dedupe, enrich; publish to --output_topic), 'score' (score a subscription of the ingest topic; publish to --output_topic), 'aggregate' (views from a subscription of the score topic).")
	outTopicFlag  = flag.String("output_topic", "", "The topic the ingest and score stages publish their events to: kafka://HOST:PORT/TOPIC or pubsub://projects/P/topics/T (required for them, not used by all and aggregate).")
	countriesFlag = flag.String("countries", "", "Comma-separated monitored countries; empty monitors all.")
	botsFlag      = flag.String("bot_patterns", strings.Join(filter.DefaultBotPatterns, ","), "Comma-separated user-agent substrings that mark bots (case-insensitive); empty disables.")
	blockedFlag   = flag.String("blocked_users", "", "Comma-separated user IDs whose events are filtered.")
	metricsFlag   = flag.String("metrics_addr", "", "Serve the job's counters as Prometheus metrics at http://ADDR/metrics while it runs (host:port; Prism and Flink).")
	maxRecordFlag = flag.Int("max_record_bytes", event.DefaultMaxRecordBytes, "Records larger than this many bytes are dead-lettered as too_large without being parsed.")
	modelFlag     = flag.String("model", "", "ML model URL for scoring posts; empty scores nothing.")
	thresholdFlag = flag.Float64("score_threshold", 0, "Flag events whose score is at least this; 0 means the model's default.")
	earlyFlag     = flag.Duration("early_firing", aggregate.DefaultEarlyFiring, "Event-time step of the early panes of the 1-minute windows: a changed row is written when the watermark passes the next multiple of it (a live source's watermark follows the wall clock). At least 1ms.")
	latenessFlag  = flag.Duration("allowed_lateness", aggregate.DefaultAllowedLateness, "How long after a window's end late events still count; must be positive.")
	ttlFlag       = flag.Duration("dedupe_ttl", dedupe.DefaultTTL, "How long (event time) event IDs are remembered for dedupe.")
	maxIDsFlag    = flag.Int64("dedupe_max_ids", dedupe.DefaultMaxIDs, "Dedupe's state budget: the most event IDs remembered at once (about 45 bytes of memory each); past it the oldest are forgotten (counters dedupe_evicted, duplicates_expired). 0: no limit but --dedupe_ttl.")
	ackFlag       = flag.String("ack", "", "When raw queue messages are acknowledged by the stages that archive them (all, ingest): 'archive' (the default: after the archive file holding them is closed; every runner) or 'commit' (after the runner commits the bundle; Dataflow only). The score and aggregate stages always acknowledge after commit.")
	replayFlag    = flag.Duration("max_session_replay", 0, "How far before the speed watermark a warm restart follows the sessions still open, scanning and replaying the archive back to their first events; a longer session is left out of the speed layer's sessions view (the backfill counts it). 0: --dedupe_ttl.")
	warmFlag      = flag.Bool("warm_restart", true, "On start, replay the archive's tail when the store has a speed watermark, so the speed views are exact again after a crash (stages all and ingest; ingest needs --store for it).")
	cpuProfile    = flag.String("cpuprofile", "", "Write a CPU profile of the whole run (Prism included when embedded) to this file.")
	memProfile    = flag.String("memprofile", "", "Write a heap profile (live objects, Prism included when embedded) to this file every 30s while the job runs.")
)

func config() (Config, error) {
	if *latenessFlag <= 0 {
		return Config{}, fmt.Errorf("--allowed_lateness=%s: must be positive (Prism panics when a window closes with none)", *latenessFlag)
	}
	cfg := Config{
		Source: *sourceFlag, Store: *storeFlag, Archive: *archiveFlag, DeadLetter: *deadFlag,
		Reference: *referenceFlag, ReferenceRefresh: *refreshFlag, RunFor: *runForFlag, Stage: *stageFlag, OutputTopic: *outTopicFlag,
		Countries: jobrun.List(*countriesFlag), Bots: jobrun.List(*botsFlag), Blocked: jobrun.List(*blockedFlag), MaxRecordBytes: *maxRecordFlag, MetricsAddr: *metricsFlag,
		Model: *modelFlag, ScoreThreshold: *thresholdFlag,
		EarlyFiring: *earlyFlag, AllowedLateness: *latenessFlag, DedupeTTL: *ttlFlag, DedupeMaxIDs: *maxIDsFlag,
		AckMode: source.AckMode(*ackFlag), WarmRestart: *warmFlag, MaxSessionReplay: *replayFlag,
	}
	return cfg, cfg.Validate()
}
