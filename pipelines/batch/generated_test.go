package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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
