package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/scope"
	"github.com/beamline/beamline/transforms/score"
)

// Config is one backfill: which days of which lake, and where the results go.
type Config struct {
	// Listed, when set, is called with the number of lake files the run reads once they are
	// listed (the live metrics' progress).
	Listed     func(files int)
	Lake       string
	From, To   time.Time // days, midnight UTC, To inclusive
	Store      string
	DeadLetter string
	Reference  string // URL-prefix -> category CSV; empty: every category is unknown
	Countries  []string
	Bots       []string
	Blocked    []string
	// Model is the ML model URL (score.ParseURL); empty: nothing is scored and flagged stays 0.
	Model string
	// ScoreThreshold flags events whose score is at least this; 0 means score.DefaultThreshold.
	ScoreThreshold float64
	// DedupeTTL is how far (event time) a copy of an ID decides later copies; 0 means
	// dedupe.DefaultTTL. The run reads this much of the days before its own.
	DedupeTTL time.Duration
	// Lookahead is how far past its last day the run follows the sessions that start in its
	// days; 0 means DefaultLookahead.
	Lookahead time.Duration
	// AllowedLateness is how long after its end a day still receives data: a day is closed,
	// and may be published, once its end plus this has passed. 0 means DefaultAllowedLateness.
	AllowedLateness time.Duration
	// MaxRecordBytes is the size limit of a record (0: event.DefaultMaxRecordBytes); larger ones
	// are dead-lettered as too_large without being parsed (nor held in memory whole).
	MaxRecordBytes int
	// OnCorruptFile says what a corrupt lake file does: "fail" (the default, also for "") fails
	// the run with one line naming the file; "quarantine" skips the file, dead-letters it as
	// corrupt_file and publishes unless more than MaxCorruptFraction of the days' bytes is lost.
	OnCorruptFile string
	// MaxCorruptFraction is the fraction of the run's lake bytes that quarantined files may hold
	// and the run still be published; 0 means DefaultMaxCorruptFraction.
	MaxCorruptFraction float64
	// MaxDeadLetterRate refuses to publish a run whose dead letters are more than this fraction
	// of its records; 0 means DefaultMaxDeadLetterRate.
	MaxDeadLetterRate float64
	// MinVolumeRatio refuses to publish a run whose days hold fewer events than this fraction of
	// the median published day of the week before; 0 means DefaultMinVolumeRatio.
	MinVolumeRatio float64
	// ForcePublish, when set, is the logged reason to publish despite failed quality checks.
	ForcePublish string
	// SpeedRetention: after publishing, speed rows of published days are deleted once their
	// window starts this long before the end of the run's last day; 0 deletes none.
	SpeedRetention time.Duration
	// UnpublishedGrace: after publishing, the rows of runs that serve no day and started this
	// long ago are deleted (failed, refused or replaced runs); 0 deletes none.
	UnpublishedGrace time.Duration
	// AllowOpenDay publishes days that are still open (the views of an open day are partial).
	AllowOpenDay bool
	// Now is the clock that decides which days are closed; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxCorruptFraction is the default of Config.MaxCorruptFraction: 1% of the bytes.
const DefaultMaxCorruptFraction = 0.01

// DefaultLookahead is how far past its last day a run follows sessions by default.
const DefaultLookahead = 6 * time.Hour

// DefaultAllowedLateness is the allowed lateness of the streaming job's default (DESIGN.md).
const DefaultAllowedLateness = 10 * time.Minute

// Validate checks what can be checked without touching any system.
func (c Config) Validate() error {
	var errs []error
	if c.Lake == "" {
		errs = append(errs, errors.New("--lake is required (a directory, gs://bucket/path or s3://bucket/path)"))
	}
	if c.Store == "" {
		errs = append(errs, errors.New("--store is required (for example sqlite://out/views.db)"))
	}
	if c.DeadLetter == "" {
		errs = append(errs, errors.New("--deadletter is required (a directory, gs:// or s3:// path)"))
	}
	if c.From.IsZero() || c.To.IsZero() {
		errs = append(errs, errors.New("--from and --to are required, as YYYY-MM-DD"))
	} else if c.From.After(c.To) {
		errs = append(errs, fmt.Errorf("--from %s is after --to %s: --to is the last day to backfill, inclusive", day(c.From), day(c.To)))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--dedupe_ttl", c.DedupeTTL}, {"--lookahead", c.Lookahead}, {"--allowed_lateness", c.AllowedLateness},
		{"--speed_retention", c.SpeedRetention}, {"--unpublished_grace", c.UnpublishedGrace}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s=%s is negative: give a duration such as 24h, or 0 for the default", d.name, d.v))
		}
	}
	switch c.OnCorruptFile {
	case "", "fail", "quarantine":
	default:
		errs = append(errs, fmt.Errorf("--on_corrupt_file=%q: want fail or quarantine", c.OnCorruptFile))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"--max_corrupt_fraction", c.MaxCorruptFraction}, {"--max_deadletter_rate", c.MaxDeadLetterRate}, {"--min_volume_ratio", c.MinVolumeRatio}} {
		if f.v < 0 || f.v > 1 {
			errs = append(errs, fmt.Errorf("%s=%v: want a fraction between 0 and 1 (0: the default)", f.name, f.v))
		}
	}
	if c.MaxRecordBytes < 0 {
		errs = append(errs, fmt.Errorf("--max_record_bytes=%d is negative: give a size in bytes, or 0 for the default %d", c.MaxRecordBytes, event.DefaultMaxRecordBytes))
	}
	if c.Model != "" {
		if err := c.score().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--model/--score_threshold: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (c Config) score() score.Config {
	return score.Config{Model: c.Model, Threshold: c.ScoreThreshold}
}

func (c Config) days() []time.Time {
	var out []time.Time
	for d := c.From; !d.After(c.To); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

func (c Config) filter() filter.Config {
	return filter.Config{Countries: c.Countries, BotPatterns: c.Bots, BlockedUsers: c.Blocked}
}

// scope returns what the run owns (its days) and the context it reads: the dedupe TTL and a
// session gap before its days (a session's start, and the copies that decide its events) and
// the lookahead after them.
func (c Config) scope() scope.Config {
	return scope.ForDays(c.From, c.To, orDefault(c.DedupeTTL, dedupe.DefaultTTL), aggregate.SessionGap, orDefault(c.Lookahead, DefaultLookahead))
}

// retention is what the run deletes after it has published (see store.Retention).
func (c Config) retention() store.Retention {
	var r store.Retention
	if c.SpeedRetention > 0 {
		r.SpeedBefore = c.To.AddDate(0, 0, 1).Add(-c.SpeedRetention)
	}
	if c.UnpublishedGrace > 0 {
		r.UnpublishedBefore = c.now().Add(-c.UnpublishedGrace)
	}
	return r
}

// now is the run's clock.
func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// orDefault returns v, or def when v is zero (the zero value of a setting means its default).
func orDefault[T time.Duration | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// checkClosed fails unless every day of the run has closed: its end plus the allowed lateness
// has passed by the clock and, when the store records one, by the speed layer's watermark.
func (c Config) checkClosed(ctx context.Context, st *store.Store) error {
	if c.AllowOpenDay {
		return nil
	}
	closes := c.To.AddDate(0, 0, 1).Add(orDefault(c.AllowedLateness, DefaultAllowedLateness))
	if t := c.now(); t.Before(closes) {
		return fmt.Errorf("backfill %s..%s: day %s is still open: it closes at %s (its end plus --allowed_lateness), it is %s now; backfill closed days only, or pass --allow_open_day to publish partial views", day(c.From), day(c.To), day(c.To), closes.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	wm, err := st.SpeedWatermark(ctx)
	if err != nil {
		return fmt.Errorf("backfill: read the speed watermark: %w", err)
	}
	if !wm.IsZero() && wm.Before(closes) {
		return fmt.Errorf("backfill %s..%s: day %s is still open: the speed layer's watermark is %s, before the day closes at %s (its end plus --allowed_lateness), so its data may not have landed; backfill closed days only, or pass --allow_open_day to publish anyway", day(c.From), day(c.To), day(c.To), wm.UTC().Format(time.RFC3339), closes.Format(time.RFC3339))
	}
	return nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
