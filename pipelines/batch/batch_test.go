package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/deadletter"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

func TestMain(m *testing.M) {
	code := ptest.MainRet(m)
	removeBatchBinary()
	os.Exit(code)
}

var (
	day1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

const (
	sampleLake = "../../testdata/lake"
	categories = "../../testdata/reference/categories.csv"
	// modelFile is the embedded spam model: every test that scores uses it, embedded or served.
	modelFile = "../../testdata/model/spam.json"
)

// sampleConfig backfills the committed two-day lake into a fresh store.
func sampleConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{
		Lake: sampleLake, From: day1, To: day2, Store: "sqlite://" + filepath.Join(dir, "views.db"),
		DeadLetter: filepath.Join(dir, "deadletter"), Reference: categories,
		Bots: reference.DefaultBotPatterns, Blocked: []string{"u-blocked"}, Model: "logreg://" + modelFile,
	}
}

// expected computes the views and counts of cfg with the independent plain-Go reference.
func expected(t *testing.T, cfg Config) reference.Result {
	t.Helper()
	first, last := cfg.scope().Partitions()
	recs, err := reference.ReadLake(cfg.Lake, first, last)
	if err != nil {
		t.Fatal(err)
	}
	cats := map[string]string{}
	if cfg.Reference != "" {
		if cats, err = reference.ReadCategories(cfg.Reference); err != nil {
			t.Fatal(err)
		}
	}
	return reference.Compute(reference.Config{From: cfg.From, To: cfg.To, Categories: cats,
		DedupeTTL: cfg.DedupeTTL, Lookahead: orDefault(cfg.Lookahead, DefaultLookahead), MaxRecordBytes: cfg.MaxRecordBytes,
		Countries: cfg.Countries, BotPatterns: cfg.Bots, BlockedUsers: cfg.Blocked, Flagged: flagged(t, cfg)}, recs)
}

// flagged is the reference's own scoring of the model file when cfg scores (every test model is
// modelFile), at cfg's threshold.
func flagged(t *testing.T, cfg Config) func(text, userAgent, url string) bool {
	t.Helper()
	if cfg.Model == "" {
		return nil
	}
	m, err := reference.ReadModel(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	threshold := cfg.ScoreThreshold
	if threshold == 0 {
		threshold = 0.5
	}
	return m.Flagged(threshold)
}

// openStore opens the store at url, closed when t ends.
func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// published reads every batch row of cfg's days back from the store, in the reference's order.
func published(t *testing.T, cfg Config) []views.Row {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []views.Row
	for _, spec := range views.All() {
		rows, err := st.Query(ctx, store.Query{View: spec.Name, Layer: views.Batch, From: cfg.From, To: cfg.To.AddDate(0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rows...)
	}
	return all
}

func sortRows(rows []views.Row) []views.Row {
	out := append([]views.Row(nil), rows...)
	less := func(a, b views.Row) int {
		return strings.Compare(a.View+"\x00"+a.Key+"\x00"+a.WindowStart.Format(time.RFC3339), b.View+"\x00"+b.Key+"\x00"+b.WindowStart.Format(time.RFC3339))
	}
	slices.SortFunc(out, less)
	return out
}

func countsOf(rep Report) reference.Counts {
	return reference.Counts{Read: rep.Read, Context: rep.Context, Processed: rep.Processed, Duplicates: rep.Duplicates,
		Filtered: nonZero(rep.Filtered), DeadLettered: nonZero(rep.DeadLettered)}
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestBackfillMatchesReference backfills the committed lake and compares every row of every
// view, and every count, with the independent reference.
func TestBackfillMatchesReference(t *testing.T) {
	cfg := sampleConfig(t)
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBackfill(t, cfg, rep, expected(t, cfg))
}

// checkBackfill compares what the backfill cfg published, reported and dead-lettered with want.
func checkBackfill(t *testing.T, cfg Config, rep Report, want reference.Result) {
	t.Helper()
	if d := cmp.Diff(sortRows(want.Rows), sortRows(published(t, cfg))); d != "" {
		t.Errorf("published views differ from the reference (-want +got):\n%s", d)
	}
	if d := cmp.Diff(normalize(want.Counts), countsOf(rep)); d != "" {
		t.Errorf("counts differ from the reference (-want +got):\n%s", d)
	}
	if rep.Lost() != 0 {
		t.Errorf("conservation: %d records unaccounted for", rep.Lost())
	}
	if n := deadLetterLines(t, cfg.DeadLetter); n != sum(rep.DeadLettered) {
		t.Errorf("dead-letter files hold %d records, report says %d", n, sum(rep.DeadLettered))
	}
}

func normalize(c reference.Counts) reference.Counts {
	c.Filtered, c.DeadLettered = nonZero(c.Filtered), nonZero(c.DeadLettered)
	return c
}

// deadLetterLines counts the dead letters written under dir (any Beam filesystem path) and
// checks that each carries its raw bytes, a reason and a source.
func deadLetterLines(t *testing.T, dir string) int64 {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, strings.TrimSuffix(dir, "/")+"/*/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range files {
		b := readAll(t, fs, f)
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var dl deadletter.Line
			if err := json.Unmarshal([]byte(line), &dl); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if dl.Reason == "" || dl.Detail == "" || !strings.HasPrefix(dl.Source, "raw/dt=") {
				t.Errorf("%s: dead letter without reason, detail or source relative to the lake: %s", f, line)
			}
			n++
		}
	}
	return n
}

func readAll(t *testing.T, fs filesystem.Interface, path string) []byte {
	t.Helper()
	rc, err := fs.OpenRead(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

// TestRerunReplacesRun backfills the same days twice: the second run replaces the first
// atomically and nothing is counted twice.
func TestRerunReplacesRun(t *testing.T) {
	cfg := sampleConfig(t)
	ctx := context.Background()
	first, err := Backfill(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := published(t, cfg)
	second, err := Backfill(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sortRows(before), sortRows(published(t, cfg))); d != "" {
		t.Errorf("views changed on re-run (-first +second):\n%s", d)
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pubs, err := st.Publications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		if p.Run != second.Run {
			t.Errorf("day %s served by run %s, want the re-run %s (first was %s)", p.Day.Format(time.DateOnly), p.Run, second.Run, first.Run)
		}
	}
	if len(pubs) != 2 {
		t.Errorf("%d days published, want 2", len(pubs))
	}
}

// TestBadConfigFailsFast checks that mistakes are reported before any pipeline runs, with a
// message that says what to fix.
func TestBadConfigFailsFast(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"from after to", func(c *Config) { c.From, c.To = day2, day1 }, "--from 2026-11-21 is after --to 2026-11-20"},
		{"no lake", func(c *Config) { c.Lake = "" }, "--lake is required"},
		{"no store", func(c *Config) { c.Store = "" }, "--store is required"},
		{"unknown store scheme", func(c *Config) { c.Store = "mysql://x/y" }, `unknown store scheme "mysql"`},
		{"missing lake", func(c *Config) { c.Lake = filepath.Join(t.TempDir(), "nope") }, "no raw/dt=YYYY-MM-DD partitions"},
		{"days without files", func(c *Config) { c.From, c.To = day1.AddDate(-1, 0, 0), day2.AddDate(-1, 0, 0) }, "no files under"},
		{"an open day", func(c *Config) { c.Now = func() time.Time { return day2.Add(24*time.Hour + 9*time.Minute) } }, "day 2026-11-21 is still open: it closes at 2026-11-22T00:10:00Z"},
		{"an open day by a longer lateness", func(c *Config) {
			c.AllowedLateness, c.Now = 2*time.Hour, func() time.Time { return day2.Add(25 * time.Hour) }
		}, "it closes at 2026-11-22T02:00:00Z"},
		{"negative lookahead", func(c *Config) { c.Lookahead = -time.Hour }, "--lookahead=-1h0m0s is negative"},
		{"missing reference", func(c *Config) { c.Reference = filepath.Join(t.TempDir(), "none.csv") }, "read reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sampleConfig(t)
			tt.modify(&cfg)
			start := time.Now()
			_, err := Backfill(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Backfill error = %v, want it to contain %q", err, tt.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s to fail: should fail before running a pipeline", time.Since(start))
			}
		})
	}
	if _, err := Backfill(context.Background(), Config{Lake: filepath.Join(t.TempDir(), "x"), From: day1, To: day1, Store: "sqlite://" + filepath.Join(t.TempDir(), "v.db"), DeadLetter: t.TempDir()}); !errors.Is(err, lake.ErrNoLake) {
		t.Errorf("missing lake: error %v is not lake.ErrNoLake", err)
	}
}

// TestOpenDayByWatermark refuses to publish a day that the speed layer has not finished (its
// watermark is before the day's end plus the allowed lateness), unless --allow_open_day says so;
// nothing is published by the refused run.
func TestOpenDayByWatermark(t *testing.T) {
	cfg := sampleConfig(t)
	ctx := context.Background()
	st := openStore(t, cfg.Store)
	if err := st.SetSpeedWatermark(ctx, day2.Add(24*time.Hour+5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := Backfill(ctx, cfg); err == nil || !strings.Contains(err.Error(), "the speed layer's watermark is 2026-11-22T00:05:00Z, before the day closes at 2026-11-22T00:10:00Z") {
		t.Fatalf("Backfill of a day the speed layer has not closed = %v, want a refusal naming the watermark", err)
	}
	if pubs, err := st.Publications(ctx); err != nil || len(pubs) != 0 {
		t.Fatalf("after the refusal: publications %v (err %v), want none", pubs, err)
	}
	cfg.AllowOpenDay = true
	if _, err := Backfill(ctx, cfg); err != nil {
		t.Fatalf("Backfill with AllowOpenDay: %v", err)
	}
	if pubs, err := st.Publications(ctx); err != nil || len(pubs) != 2 {
		t.Fatalf("with AllowOpenDay: publications %v (err %v), want the two days", pubs, err)
	}
}

// TestOlderRunNeverReplacesNewer backfills days that a run started later has already published
// (as when two backfills of a day overlap and the later-started one finishes first): the older
// run fails with a message that says so, and the newer run keeps serving.
func TestOlderRunNeverReplacesNewer(t *testing.T) {
	cfg := sampleConfig(t)
	ctx := context.Background()
	st := openStore(t, cfg.Store)
	newer := store.NewRunID(time.Now().Add(time.Hour))
	if err := st.Publish(ctx, newer, []time.Time{day2}); err != nil {
		t.Fatal(err)
	}
	_, err := Backfill(ctx, cfg)
	if !errors.Is(err, store.ErrSuperseded) || !strings.Contains(err.Error(), "started after this one has published them") {
		t.Fatalf("Backfill under a newer run = %v, want store.ErrSuperseded and a message that says so", err)
	}
	pubs, err := st.Publications(ctx)
	if err != nil || len(pubs) != 1 || pubs[0].Run != newer {
		t.Errorf("publications %v (err %v), want only day 2 by the newer run %s", pubs, err, newer)
	}
}

// TestRetentionAfterPublish backfills the sample lake into a store that holds speed rows of both
// days and a failed run: after publishing, the run deletes the speed rows of the days behind
// --speed_retention and the failed run's rows, and reports what it deleted.
func TestRetentionAfterPublish(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.SpeedRetention, cfg.UnpublishedGrace = 24*time.Hour, time.Hour
	st := openStore(t, cfg.Store)
	speed := []views.Row{
		{View: views.Sessions, Key: "DE", WindowStart: day1.Add(time.Hour), WindowEnd: day1.Add(2 * time.Hour), Metrics: map[string]int64{"sessions": 1, "events": 2, "duration_s": 3}},
		{View: views.Sessions, Key: "DE", WindowStart: day2.Add(time.Hour), WindowEnd: day2.Add(2 * time.Hour), Metrics: map[string]int64{"sessions": 1, "events": 2, "duration_s": 3}},
	}
	failed := store.NewRunID(time.Now().Add(-2 * time.Hour))
	if err := errors.Join(st.UpsertSpeed(context.Background(), speed), st.WriteBatch(context.Background(), failed, speed[:1])); err != nil {
		t.Fatal(err)
	}
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Swept != (store.Swept{SpeedRows: 1, BatchRows: 1}) {
		t.Errorf("swept %+v, want day 1's speed row and the failed run's row", rep.Swept)
	}
	left, err := st.Query(context.Background(), store.Query{View: views.Sessions, Layer: views.Speed, From: day1, To: day2.AddDate(0, 0, 1)})
	if err != nil || len(left) != 1 || !left[0].WindowStart.Equal(day2.Add(time.Hour)) {
		t.Errorf("speed rows left %v (err %v), want day 2's only", left, err)
	}
}
