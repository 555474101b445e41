package main

import (
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/beamline/beamline/io/archive"
	"github.com/beamline/beamline/io/deadletter"
	"github.com/beamline/beamline/io/source"
	"github.com/beamline/beamline/io/store/storeio"
	"github.com/beamline/beamline/io/topic"
	"github.com/beamline/beamline/pipelines/graph"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
)

// The stages of the streaming job (--stage; see the command's doc).
const (
	// StageAll runs every step in one job: the default, and what local runs use.
	StageAll = "all"
	// StageIngest reads the raw queue, archives it, and publishes the parsed, filtered,
	// deduplicated and enriched events to --output_topic.
	StageIngest = "ingest"
	// StageScore scores the events of a subscription of the ingest stage's topic and
	// publishes them to --output_topic.
	StageScore = "score"
	// StageAggregate computes the speed views from a subscription of the score stage's topic
	// (or the ingest stage's, when nothing is scored).
	StageAggregate = "aggregate"
)

// Stages lists the stages.
var Stages = []string{StageAll, StageIngest, StageScore, StageAggregate}

// stage returns the stage, StageAll when none is set.
func (c Config) stage() string {
	if c.Stage == "" {
		return StageAll
	}
	return c.Stage
}

// ownsArchive reports whether the stage reads the raw queue and archives it.
func (c Config) ownsArchive() bool {
	return c.stage() == StageAll || c.stage() == StageIngest
}

// ackMode returns how the stage's input is acknowledged: as --ack says for the stages that
// archive what they read; after the runner's commit for the others (the score stage's commit
// follows the publication of its output; see the command's doc).
func (c Config) ackMode() source.AckMode {
	if c.ownsArchive() {
		return c.AckMode
	}
	return source.AckAfterCommit
}

// setting is a flag's value, for the checks of validateStage.
type setting struct {
	flag  string
	set   bool
	usage string // what it is, for a flag that is required
}

// validateStage checks the settings that depend on the stage: each stage requires some and
// rejects those it does not use, saying which stage they belong to.
func (c Config) validateStage() []error {
	stage := c.stage()
	var errs []error
	need := func(s setting) {
		if !s.set {
			errs = append(errs, fmt.Errorf("%s is required for --stage=%s (%s)", s.flag, stage, s.usage))
		}
	}
	reject := func(s setting, why string) {
		if s.set {
			errs = append(errs, fmt.Errorf("%s is not used by --stage=%s: %s; drop it", s.flag, stage, why))
		}
	}
	out := setting{"--output_topic", c.OutputTopic != "", "the topic it publishes its events to, kafka://HOST:PORT/TOPIC or pubsub://projects/P/topics/T"}
	store := setting{"--store", c.Store != "", "the view store, e.g. sqlite://out/views.db"}
	arch := setting{"--archive", c.Archive != "", "the raw archive: a directory, gs:// or s3:// path"}
	model := setting{"--model", c.Model != "", "the ML model URL, e.g. logreg://testdata/model/spam.json"}
	ingestOnly := []setting{{flag: "--reference", set: c.Reference != ""}, {flag: "--countries", set: len(c.Countries) > 0},
		{flag: "--blocked_users", set: len(c.Blocked) > 0}}
	switch stage {
	case StageAll:
		need(store)
		need(arch)
		reject(out, "it writes the views itself (--output_topic is for --stage=ingest and --stage=score)")
	case StageIngest:
		need(arch)
		need(out)
		reject(model, "the score stage scores (run --stage=score between ingest and aggregate)")
	case StageScore:
		need(out)
		need(model)
		reject(store, "the aggregate stage writes the views")
		reject(arch, "the ingest stage archives the raw queue")
		for _, s := range ingestOnly {
			reject(s, "the ingest stage enriches and filters")
		}
	case StageAggregate:
		need(store)
		reject(out, "it writes the views to --store (--output_topic is for --stage=ingest and --stage=score)")
		reject(arch, "the ingest stage archives the raw queue")
		reject(model, "the score stage scores; the aggregate stage counts the flags it set")
		for _, s := range ingestOnly {
			reject(s, "the ingest stage enriches and filters")
		}
	default:
		return []error{fmt.Errorf("--stage=%s: want all, ingest, score or aggregate", c.Stage)}
	}
	if c.OutputTopic != "" && (stage == StageIngest || stage == StageScore) {
		if err := topic.Validate(c.OutputTopic); err != nil {
			errs = append(errs, fmt.Errorf("--output_topic: %w", err))
		}
	}
	if !c.ownsArchive() && c.AckMode == source.AckAfterArchive {
		errs = append(errs, fmt.Errorf("--ack=%s: --stage=%s archives nothing; it acknowledges its input after the runner commits "+
			"(the score stage's commit follows the publication of its output); leave --ack unset", c.AckMode, stage))
	}
	return errs
}

// graphConfig is the configuration of the shared transforms, for the stages that run them.
func (c Config) graphConfig(plan Plan, prefixes []enrich.Prefix) graph.StreamingConfig {
	speed := c.speed()
	speed.SessionsFrom = plan.SessionsFrom
	return graph.StreamingConfig{
		Config: graph.Config{
			MaxRecordBytes: c.MaxRecordBytes,
			Filter:         filter.Config{From: plan.ReplayFrom, Countries: c.Countries, BotPatterns: c.Bots, BlockedUsers: c.Blocked},
			Prefixes:       prefixes,
			Score:          c.score(),
		},
		DedupeTTL:        c.DedupeTTL,
		DedupeMaxIDs:     c.DedupeMaxIDs,
		Speed:            speed,
		Reference:        c.Reference,
		ReferenceRefresh: c.ReferenceRefresh,
	}
}

// deadLetterName names the dead-letter directory of a run of the stage that started at now.
func (c Config) deadLetterName(now time.Time) string {
	prefix := c.stage()
	if prefix == StageAll {
		prefix = "speed"
	}
	return prefix + "-" + now.UTC().Format("20060102T150405Z")
}

// Build adds the job of cfg's stage to s (see the command's doc): the source, the raw archive
// (which acknowledges what it has written) and the replay of the archive's tail (plan) for the
// stages that read the raw queue, the shared transforms of the stage, its sinks (the speed
// views' upserts, or the output topic) and the dead-letter sink. now names the dead-letter
// directory of this run.
func Build(s beam.Scope, cfg Config, plan Plan, prefixes []enrich.Prefix, now time.Time) {
	dl := cfg.deadLetterName(now)
	switch cfg.stage() {
	case StageIngest:
		events, dead := graph.Ingest(s, cfg.graphConfig(plan, prefixes), readRaw(s, cfg, plan))
		consume(s, topic.Write(s, cfg.OutputTopic, events), deadletter.Write(s, cfg.DeadLetter, dl, unwritten(s, cfg, plan, dl, dead)))
	case StageScore:
		events, bad := readTopic(s, cfg)
		scored, failed := graph.Score(s, cfg.score(), events)
		// Two dead-letter sinks rather than one after a Flatten: Prism runs a Flatten's
		// consumers in a stage of their own, and everything this stage writes must be written
		// in the bundle that read it, before the reader acknowledges.
		consume(s, topic.Write(s, cfg.OutputTopic, scored),
			deadletter.Write(s, cfg.DeadLetter, dl, bad), deadletter.Write(s, cfg.DeadLetter, dl, failed))
	case StageAggregate:
		events, bad := readTopic(s, cfg)
		rows := graph.Aggregate(s, cfg.graphConfig(plan, prefixes), events)
		consume(s, upsert(s, cfg, plan, rows), deadletter.Write(s, cfg.DeadLetter, dl, bad))
	default:
		out := graph.Streaming(s, cfg.graphConfig(plan, prefixes), readRaw(s, cfg, plan))
		consume(s, upsert(s, cfg, plan, out.Rows), deadletter.Write(s, cfg.DeadLetter, dl, unwritten(s, cfg, plan, dl, out.DeadLetters)))
	}
}

// readRaw reads the raw queue and archives it, and replays the archive's tail (plan). It
// returns the records (PCollection<event.Raw>): those of the queue once archived, under their
// archive sources (see package archive), and the replayed ones.
func readRaw(s beam.Scope, cfg Config, plan Plan) beam.PCollection {
	msgs := source.Read(s, cfg.Source, source.Options{AckMode: cfg.ackMode()})
	raws := archive.Write(s, cfg.Archive, cfg.Source, msgs)
	if len(plan.Files) > 0 {
		raws = beam.Flatten(s, raws, archive.Replay(s, cfg.Archive, plan.Files, plan.ReplayFrom, cfg.MaxRecordBytes))
	}
	return raws
}

// unwritten drops the dead letters of a replay that earlier runs wrote already (see
// deadletter.Unwritten); without a replay, every dead letter is new.
func unwritten(s beam.Scope, cfg Config, plan Plan, run string, dead beam.PCollection) beam.PCollection {
	if len(plan.Files) == 0 {
		return dead
	}
	return deadletter.Unwritten(s, cfg.DeadLetter, run, plan.ReplayFrom, dead)
}

// readTopic reads a subscription of the previous stage's topic, acknowledging after commit,
// and decodes its messages into events and dead letters.
func readTopic(s beam.Scope, cfg Config) (events, deadLetters beam.PCollection) {
	return topic.Events(s, source.Read(s, cfg.Source, source.Options{AckMode: cfg.ackMode()}))
}

// upsert upserts speed rows into the store and returns the counts of rows written.
func upsert(s beam.Scope, cfg Config, plan Plan, rows beam.PCollection) beam.PCollection {
	return storeio.UpsertSpeed(s, cfg.Store, storeio.SpeedOptions{AllowedLateness: cfg.lateness(), WatermarkFrom: plan.Watermark}, rows)
}
