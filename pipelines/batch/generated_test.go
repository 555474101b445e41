package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

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
