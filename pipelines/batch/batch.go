package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/beamline/beamline/io/deadletter"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/store/storeio"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/pipelines/graph"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/event"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/scope"
	"github.com/beamline/beamline/transforms/score"
)

// Config is one backfill: which days of which lake, and where the results go.
type Config struct {
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
		errs = append(errs, errors.New("--store is required (for example sqlite:///tmp/views.db)"))
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
	}{{"--dedupe_ttl", c.DedupeTTL}, {"--lookahead", c.Lookahead}, {"--allowed_lateness", c.AllowedLateness}} {
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

func orDefaultFraction(f, def float64) float64 {
	if f == 0 {
		return def
	}
	return f
}

// corruptFileError finds the lake reader's "corrupt lake file <path>: <reason>" in a runner's
// error, which wraps it in pages of context.
var corruptFileError = regexp.MustCompile(`corrupt lake file (\S+): ([^\n"]*)`)

// corruptFile returns the file and reason of a pipeline error caused by a corrupt lake file.
func corruptFile(err error) (file, why string, ok bool) {
	m := corruptFileError.FindStringSubmatch(err.Error())
	if m == nil {
		return "", "", false
	}
	return m[1], strings.TrimRight(m[2], " \\"), true
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkClosed fails unless every day of the run has closed: its end plus the allowed lateness
// has passed by the clock and, when the store records one, by the speed layer's watermark.
func (c Config) checkClosed(ctx context.Context, st store.Store) error {
	if c.AllowOpenDay {
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	closes := c.To.AddDate(0, 0, 1).Add(orDefault(c.AllowedLateness, DefaultAllowedLateness))
	if t := now(); t.Before(closes) {
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

// Report is what a backfill did.
type Report struct {
	Run          string
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

// Backfill recomputes the views of cfg's days from the lake, writes them as one batch run and
// publishes it, replacing the runs that served those days before. The run is published only
// if the pipeline succeeded and every record read is accounted for.
func Backfill(ctx context.Context, cfg Config) (Report, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if *jobopts.Async {
		return Report{}, errors.New("--async (or --execute_async) is not supported: the batch job publishes its run only after the pipeline has succeeded, so it must wait for it")
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return Report{}, err
	}
	defer st.Close()
	if err := cfg.checkClosed(ctx, st); err != nil {
		return Report{}, err
	}
	first, last := cfg.scope().Partitions()
	parts, err := lake.List(ctx, cfg.Lake, first, last)
	if err != nil {
		return Report{}, err
	}
	var files []string
	own := 0
	for _, p := range parts {
		if mine := !p.Day.Before(cfg.From) && !p.Day.After(cfg.To); mine {
			own += len(p.Files)
			if len(p.Files) == 0 {
				slog.Warn("backfill: day has no files in the lake", "day", day(p.Day), "dir", lake.DayDir(cfg.Lake, p.Day))
			}
		}
		files = append(files, p.Files...)
	}
	if own == 0 {
		return Report{}, fmt.Errorf("backfill %s..%s: no files under %s", day(cfg.From), day(cfg.To), lake.DayDir(cfg.Lake, cfg.From))
	}
	var prefixes []enrich.Prefix
	if cfg.Reference != "" {
		if prefixes, err = enrich.ReadCSV(ctx, cfg.Reference); err != nil {
			return Report{}, err
		}
	} else {
		slog.Warn("backfill: no --reference given: every category is unknown")
	}
	if cfg.Model != "" {
		// Fails fast on a model that cannot be loaded; workers in this process (Prism) reuse it.
		if _, err := score.Load(ctx, cfg.Model); err != nil {
			return Report{}, fmt.Errorf("backfill: --model: %w", err)
		}
	}
	run := store.NewRunID(time.Now())
	slog.Info("backfill: starting", "run", run, "from", day(cfg.From), "to", day(cfg.To), "partitions", day(first)+".."+day(last), "files", len(files))

	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg, run, prefixes, files)
	res, err := beamx.RunWithMetrics(ctx, p)
	if err != nil {
		if file, why, ok := corruptFile(err); ok {
			return Report{}, fmt.Errorf("backfill run %s: corrupt lake file %s: %s (pass --on_corrupt_file=quarantine to skip such files)", run, file, why)
		}
		return Report{}, fmt.Errorf("backfill run %s: pipeline: %w", run, err)
	}
	if res == nil {
		slog.Warn("backfill: the runner did not run the pipeline (dry run or template); not publishing", "run", run)
		return Report{Run: run, Files: len(files), NotRun: true, Elapsed: time.Since(start)}, nil
	}
	rep := report(res)
	rep.Run, rep.Files = run, len(files)
	if lost := rep.Lost(); lost != 0 {
		return rep, fmt.Errorf("backfill run %s: %d records unaccounted for (read %d); not publishing", run, lost, rep.Read)
	}
	if maxLost := orDefaultFraction(cfg.MaxCorruptFraction, DefaultMaxCorruptFraction) * float64(rep.LakeBytes); float64(rep.CorruptBytes) > maxLost {
		return rep, fmt.Errorf("backfill run %s: %d corrupt files hold %d of the days' %d bytes (%.2f%%), over --max_corrupt_fraction=%v; not publishing (the files are in the dead letters, reason corrupt_file)",
			run, rep.CorruptFiles, rep.CorruptBytes, rep.LakeBytes, 100*float64(rep.CorruptBytes)/float64(max(rep.LakeBytes, 1)), orDefaultFraction(cfg.MaxCorruptFraction, DefaultMaxCorruptFraction))
	}
	if rep.Quality, err = cfg.checkQuality(ctx, st, rep); err != nil {
		return rep, err
	}
	if err := cfg.gate(run, rep.Quality); err != nil {
		return rep, err
	}
	if err := st.Publish(ctx, run, cfg.days()); errors.Is(err, store.ErrSuperseded) {
		return rep, fmt.Errorf("backfill run %s: not published: a backfill of these days that started after this one has published them (%w); its views stand", run, err)
	} else if err != nil {
		return rep, fmt.Errorf("backfill run %s: %w", run, err)
	}
	if rep.Views, err = summarize(ctx, st, cfg); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// Build adds the backfill of files to s: read, the shared transforms, the store and the
// dead-letter sink.
func Build(s beam.Scope, cfg Config, run string, prefixes []enrich.Prefix, files []string) {
	raws, corrupt := lake.Read(s, cfg.Lake, files, lake.ReadOptions{MaxRecordBytes: cfg.MaxRecordBytes,
		Quarantine: cfg.OnCorruptFile == "quarantine", OwnedFirst: cfg.From, OwnedLast: cfg.To})
	out := graph.Batch(s, graph.BatchConfig{
		Config: graph.Config{MaxRecordBytes: cfg.MaxRecordBytes, Filter: cfg.filter(), Prefixes: prefixes, Score: cfg.score()},
		Scope:  cfg.scope(), DedupeTTL: cfg.DedupeTTL,
	}, raws)
	rows := storeio.WriteBatch(s, cfg.Store, run, out.Rows)
	dead := deadletter.Write(s, cfg.DeadLetter, run, beam.Flatten(s, out.DeadLetters, corrupt))
	// The sinks' counts are summed in a stage of their own: on Prism a sink stage without a
	// consumed output busy-waits a core while its bundles run (see storeio.WriteBatch).
	stats.Sum(s, rows)
	stats.Sum(s, dead)
}

// report reads the conservation counts from the pipeline's metrics.
func report(res beam.PipelineResult) Report {
	counts := map[string]int64{}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Namespace() == "beamline" {
			counts[c.Name()] += c.Result()
		}
	}
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
func summarize(ctx context.Context, st store.Store, cfg Config) (map[string]ViewSummary, error) {
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
	fmt.Fprintf(w, "filtered by: %s; dead-lettered by: %s\n", details(r.Filtered), details(r.DeadLettered))
	fmt.Fprintf(w, "context %d (records of neighbouring days' runs, read for dedupe and sessions, not counted above)", r.Context)
	if r.CorruptFiles > 0 {
		fmt.Fprintf(w, "; %d corrupt files quarantined (%d of %d bytes)", r.CorruptFiles, r.CorruptBytes, r.LakeBytes)
	}
	if r.SessionsAtHorizon > 0 {
		fmt.Fprintf(w, "; %d sessions reach the lookahead and may go on past it", r.SessionsAtHorizon)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, r.Quality)
	fmt.Fprintf(w, "run %s published: %d files in %s (%.0f events/s)\n", r.Run, r.Files, r.Elapsed.Round(time.Millisecond), float64(r.Read)/max(r.Elapsed.Seconds(), 1e-3))
}

func details(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
