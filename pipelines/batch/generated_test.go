package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/lake"
)

// generate returns n records of a generator with cfg.
func generate(cfg generator.Config, n int) []generator.Record {
	g := generator.New(cfg)
	recs := make([]generator.Record, n)
	for i := range recs {
		recs[i] = g.Next()
	}
	return recs
}

// writeLake writes records into a lake under dir: one file called name per event-time hour.
func writeLake(t *testing.T, dir, name string, recs []generator.Record) {
	t.Helper()
	files := map[string]*bytes.Buffer{}
	for _, rec := range recs {
		path := filepath.Join(lake.HourDir(dir, rec.EventTime), name)
		if files[path] == nil {
			files[path] = &bytes.Buffer{}
		}
		files[path].Write(append(rec.Raw, '\n'))
	}
	for path, b := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGeneratedLakeWithGarbage backfills a generated lake where 10% of the records are garbage
// (and some are duplicates, late or bots) and checks conservation and every view against the
// reference.
func TestGeneratedLakeWithGarbage(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Lake = filepath.Join(t.TempDir(), "lake")
	writeLake(t, cfg.Lake, "part-0.jsonl", generate(generator.Config{Seed: 42, Start: day1, EventsPerSecond: 0.25, Users: 300,
		DupFraction: 0.05, LateFraction: 0.05, BadFraction: 0.10, BotFraction: 0.03}, 20000))
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lost() != 0 {
		t.Errorf("conservation: %d of %d records unaccounted for", rep.Lost(), rep.Read)
	}
	if got, want := float64(sum(rep.DeadLettered))/float64(rep.Read), 0.10; got < want*0.8 || got > want*1.2 {
		t.Errorf("dead-lettered %.3f of the records, generator made %.2f garbage", got, want)
	}
	want := expected(t, cfg)
	if d := cmp.Diff(normalize(want.Counts), countsOf(rep)); d != "" {
		t.Errorf("counts differ from the reference (-want +got):\n%s", d)
	}
	if d := cmp.Diff(sortRows(want.Rows), sortRows(published(t, cfg))); d != "" {
		t.Errorf("published views differ from the reference (-want +got):\n%s", d)
	}
	t.Logf("read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d",
		rep.Read, rep.Processed, sum(rep.Filtered), rep.Duplicates, sum(rep.DeadLettered))
}

// TestBadBytes backfills a lake with a 20 MiB line, a line just over a lowered limit and
// records with invalid UTF-8: the long lines are dead-lettered as too_large (their dead letters
// keep only the beginning), the invalid bytes as invalid_utf8 (two URLs that differ only in
// invalid bytes never merge into one key), exactly as the reference counts them.
func TestBadBytes(t *testing.T) {
	cfg := sampleConfig(t)
	cfg.Lake, cfg.Model, cfg.MaxRecordBytes = filepath.Join(t.TempDir(), "lake"), "", 4096
	recs := generate(generator.Config{Seed: 3, Start: day1, EventsPerSecond: 0.05, Users: 100, DupFraction: 0.02}, 500)
	at := day1.Add(time.Hour)
	line := func(id, url string) []byte { // url as is: its bytes may be invalid UTF-8
		return fmt.Appendf(nil, `{"event_id":%q,"type":"pageview","user_id":"u","url":"%s","ts":%q}`, id, url, at.Format(time.RFC3339))
	}
	for _, raw := range [][]byte{
		line("huge", "https://s/"+strings.Repeat("x", 20<<20)),
		line("over", "https://s/"+strings.Repeat("y", 4096)),
		line("bad-1", "https://s/caf\xe9"),
		line("bad-2", "https://s/caf\xe8"),
	} {
		recs = append(recs, generator.Record{Raw: raw, EventTime: at})
	}
	writeLake(t, cfg.Lake, "part-0.jsonl", recs)
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(t, cfg)
	if want.Counts.DeadLettered["too_large"] != 2 || want.Counts.DeadLettered["invalid_utf8"] != 2 {
		t.Fatalf("the reference counts %v, want 2 too_large and 2 invalid_utf8", want.Counts.DeadLettered)
	}
	checkBackfill(t, cfg, rep, want)
	for _, dl := range readDeadLetters(t, cfg.DeadLetter) {
		if dl.Reason == "too_large" && (len(dl.Raw) > 4096 || !strings.Contains(dl.Detail, "bytes is over the limit of 4096")) {
			t.Errorf("too_large dead letter keeps %d bytes, detail %q: want at most the 4096-byte limit, and the size", len(dl.Raw), dl.Detail)
		}
	}
}

// TestCorruptFiles backfills the sample lake with a truncated gzip file and an empty one added to
// its first day: by default the run fails with one short line naming a file and nothing is
// published; quarantined, the files are skipped, counted and dead-lettered (everything else
// equal to the reference over the lake without them), and the run is refused when they hold more
// of the days' bytes than --max_corrupt_fraction allows.
func TestCorruptFiles(t *testing.T) {
	lakeDir := filepath.Join(t.TempDir(), "lake")
	if err := os.CopyFS(lakeDir, os.DirFS(sampleLake)); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(bytes.Repeat([]byte(`{"event_id":"lost","type":"post","user_id":"u","ts":"2026-11-20T10:00:00Z"}`+"\n"), 200))
	w.Close()
	hour := filepath.Join(lakeDir, "raw", "dt=2026-11-20", "hr=10")
	os.MkdirAll(hour, 0o755)
	for name, b := range map[string][]byte{"truncated.jsonl.gz": gz.Bytes()[:gz.Len()/2], "empty.jsonl.gz": nil} {
		if err := os.WriteFile(filepath.Join(hour, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := sampleConfig(t)
	want := expected(t, base) // the sample lake, without the corrupt files
	base.Lake = lakeDir

	cfg := base
	_, err := Backfill(context.Background(), cfg)
	if err == nil || !regexp.MustCompile(`corrupt lake file raw/dt=2026-11-20/hr=10/(truncated|empty)\.jsonl\.gz: `).MatchString(err.Error()) || len(err.Error()) > 300 {
		t.Fatalf("Backfill with corrupt files = %v, want one short line naming a corrupt file", err)
	}
	if rows := published(t, cfg); len(rows) != 0 {
		t.Fatalf("a failed run published %d rows", len(rows))
	}

	cfg.OnCorruptFile, cfg.MaxCorruptFraction = "quarantine", 0.5
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want.Counts.Read += 2
	want.Counts.DeadLettered["corrupt_file"] = 2
	checkBackfill(t, cfg, rep, want)
	if rep.CorruptFiles != 2 || rep.CorruptBytes != int64(gz.Len()/2) || rep.LakeBytes <= rep.CorruptBytes {
		t.Errorf("report: %d corrupt files, %d of %d bytes; want 2 files of %d bytes", rep.CorruptFiles, rep.CorruptBytes, rep.LakeBytes, gz.Len()/2)
	}
	var named int
	for _, dl := range readDeadLetters(t, cfg.DeadLetter) {
		if dl.Reason == "corrupt_file" && strings.HasPrefix(dl.Source, "raw/dt=2026-11-20/hr=10/") && strings.Contains(dl.Detail, "bytes were skipped") {
			named++
		}
	}
	if named != 2 {
		t.Errorf("%d corrupt_file dead letters name their file, want 2", named)
	}

	cfg.Store, cfg.MaxCorruptFraction = "sqlite://"+filepath.Join(t.TempDir(), "v.db"), 1e-6
	if _, err := Backfill(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "over --max_corrupt_fraction=1e-06 (the files are in the dead letters, reason corrupt_file)") {
		t.Fatalf("Backfill past the corrupt-bytes threshold = %v, want a refusal", err)
	}
	if rows := published(t, cfg); len(rows) != 0 {
		t.Fatalf("a refused run published %d rows", len(rows))
	}
}

// TestQualityGates backfills a day whose lake is 60% garbage, then one with a tenth of the
// usual volume, over a store that serves a good run of the sample lake: each is written but
// refused publication, with the failed check and its figures, and the good run keeps serving;
// with --force_publish the first is published.
func TestQualityGates(t *testing.T) {
	good := sampleConfig(t)
	good.From = day1
	if _, err := Backfill(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	served := published(t, good)
	garbage := func(n int) []generator.Record {
		recs := generate(generator.Config{Seed: 9, Start: day1, EventsPerSecond: 0.05, Users: 200, BadFraction: 0.6}, n)
		return recs
	}

	cfg := good
	cfg.Lake = filepath.Join(t.TempDir(), "lake")
	writeLake(t, cfg.Lake, "part-0.jsonl", garbage(3000))
	rep, err := Backfill(context.Background(), cfg)
	if err == nil || !regexp.MustCompile(`not published, quality checks failed: dead-letter rate [56]\d\.\d% \(\d+ of 3000 records\) is over --max_deadletter_rate=0.25`).MatchString(err.Error()) {
		t.Fatalf("Backfill of a 60%% garbage day = %v, want a refusal naming the dead-letter check", err)
	}
	if len(rep.Quality.Failed) != 1 || !strings.Contains(rep.Quality.String(), "FAILED: dead-letter rate") {
		t.Errorf("quality report %q, want the failed dead-letter check", rep.Quality)
	}
	if d := cmp.Diff(sortRows(served), sortRows(published(t, cfg))); d != "" {
		t.Errorf("the refused run changed what is served (-before +after):\n%s", d)
	}

	cfg.ForcePublish = "known upstream incident INC-42"
	if _, err := Backfill(context.Background(), cfg); err != nil {
		t.Fatalf("Backfill with ForcePublish: %v", err)
	}
	if d := cmp.Diff(sortRows(served), sortRows(published(t, cfg))); d == "" {
		t.Error("with ForcePublish the garbage day's run was not published")
	}

	runs, err := openStore(t, cfg.Store).Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, r := range runs {
		statuses = append(statuses, r.Status)
	}
	if d := cmp.Diff([]string{"published", "rejected", "replaced"}, statuses); d != "" || !strings.Contains(runs[1].Report, "dead-letter rate") ||
		runs[0].Ended.Before(runs[0].Started) || len(runs[0].Days) != 2 {
		t.Errorf("run history (newest first) %+v: statuses (-want +got):\n%s; want the refused run's report to name its check", runs, d)
	}

	thin := good
	thin.From, thin.To, thin.Lake = day2, day2, filepath.Join(t.TempDir(), "lake")
	writeLake(t, thin.Lake, "part-0.jsonl", generate(generator.Config{Seed: 5, Start: day2, EventsPerSecond: 0.001, Users: 50}, 20))
	if _, err := Backfill(context.Background(), thin); err == nil || !strings.Contains(err.Error(), "of the 1 published days before, under --min_volume_ratio=0.5") {
		t.Fatalf("Backfill of a day with a tenth of the volume = %v, want a refusal naming the volume check", err)
	}
}
