package main

// The batch job's flags (DESIGN.md lists them) and the Config they make.

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/pipelines/internal/jobrun"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/score"
)

var (
	lakeFlag      = flag.String("lake", "", "Root of the raw data lake: a directory, gs://bucket/path or s3://bucket/path.")
	fromFlag      = flag.String("from", "", "First event-time day to backfill, YYYY-MM-DD (UTC).")
	toFlag        = flag.String("to", "", "Last event-time day to backfill, inclusive, YYYY-MM-DD (UTC).")
	storeFlag     = flag.String("store", "", "View store URL, e.g. sqlite:///var/lib/beamline/views.db.")
	deadFlag      = flag.String("deadletter", "", "Where dead letters are written: a directory, gs:// or s3:// path.")
	referenceFlag = flag.String("reference", "", "CSV of url_prefix,category for enrichment (any Beam filesystem path).")
	countriesFlag = flag.String("countries", "", "Comma-separated monitored countries; empty monitors all.")
	botsFlag      = flag.String("bot_patterns", strings.Join(filter.DefaultBotPatterns, ","), "Comma-separated user-agent substrings that mark bots (case-insensitive); empty disables.")
	blockedFlag   = flag.String("blocked_users", "", "Comma-separated user IDs whose events are filtered.")
	cpuProfile    = flag.String("cpuprofile", "", "Write a CPU profile of the whole run (Prism included when embedded) to this file.")
	modelFlag     = flag.String("model", "", "ML model URL that flags posts, e.g. logreg://testdata/model/spam.json, logreg+gs://bucket/spam.json or kserve+http://host:8080/v2/models/spam; empty: nothing is scored and flagged stays 0.")
	thresholdFlag = flag.Float64("score_threshold", score.DefaultThreshold, "A post is flagged when its model score is at least this.")
	ttlFlag       = flag.Duration("dedupe_ttl", dedupe.DefaultTTL, "How far (event time) a copy of an event ID decides later copies; the run reads this much of the day before its own.")
	lookaheadFlag = flag.Duration("lookahead", DefaultLookahead, "How far past its last day the run follows the sessions that start in its days.")
	latenessFlag  = flag.Duration("allowed_lateness", DefaultAllowedLateness, "How long after its end a day still receives data; a day is published only once its end plus this has passed.")
	maxRecordFlag = flag.Int("max_record_bytes", event.DefaultMaxRecordBytes, "Records larger than this many bytes are dead-lettered as too_large without being parsed.")
	corruptFlag   = flag.String("on_corrupt_file", "fail", "What a corrupt lake file (truncated or broken gzip) does: fail (the run, naming the file) or quarantine (skip it, dead-letter it as corrupt_file, publish unless --max_corrupt_fraction is passed).")
	corruptMax    = flag.Float64("max_corrupt_fraction", DefaultMaxCorruptFraction, "With --on_corrupt_file=quarantine, the fraction of the days' lake bytes that corrupt files may hold and the run still be published.")
	maxDeadFlag   = flag.Float64("max_deadletter_rate", DefaultMaxDeadLetterRate, "Quality gate: refuse to publish a run whose dead letters are more than this fraction of its records.")
	minVolumeFlag = flag.Float64("min_volume_ratio", DefaultMinVolumeRatio, "Quality gate: refuse to publish a run whose days hold fewer events than this fraction of the median published day of the week before.")
	forceFlag     = flag.String("force_publish", "", "Publish despite failed quality checks; the value is the reason, logged with the run.")
	speedRetFlag  = flag.Duration("speed_retention", 48*time.Hour, "After publishing, delete the speed rows of published days whose windows start this long before the end of the run's last day; 0 keeps them.")
	graceFlag     = flag.Duration("unpublished_grace", 48*time.Hour, "After publishing, delete the rows of runs that serve no day and started this long ago (failed, refused, replaced runs); 0 keeps them.")
	metricsFlag   = flag.String("metrics_addr", "", "Serve the run's counters as Prometheus metrics at http://ADDR/metrics while it runs (host:port; Prism and Flink).")
	openDayFlag   = flag.Bool("allow_open_day", false, "Publish days that are still open (their views are partial until a later re-run).")
)

func config() (Config, error) {
	cfg := Config{
		Lake: *lakeFlag, Store: *storeFlag, DeadLetter: *deadFlag, Reference: *referenceFlag,
		Countries: jobrun.List(*countriesFlag), Bots: jobrun.List(*botsFlag), Blocked: jobrun.List(*blockedFlag),
		Model: *modelFlag, ScoreThreshold: *thresholdFlag,
		DedupeTTL: *ttlFlag, Lookahead: *lookaheadFlag, AllowedLateness: *latenessFlag, AllowOpenDay: *openDayFlag, MaxRecordBytes: *maxRecordFlag,
		OnCorruptFile: *corruptFlag, MaxCorruptFraction: *corruptMax,
		SpeedRetention: *speedRetFlag, UnpublishedGrace: *graceFlag,
		MaxDeadLetterRate: *maxDeadFlag, MinVolumeRatio: *minVolumeFlag, ForcePublish: *forceFlag,
	}
	var err error
	if cfg.From, err = parseDay("--from", *fromFlag); err != nil {
		return cfg, err
	}
	if cfg.To, err = parseDay("--to", *toFlag); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func parseDay(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s=%q is not a day: use YYYY-MM-DD", name, v)
	}
	return t, nil
}
