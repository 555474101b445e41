package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/deadletter"
	"github.com/beamline/beamline/io/event"
	"github.com/beamline/beamline/io/lake"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/store/storeio"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
	"github.com/beamline/beamline/pipelines/graph"
	"github.com/beamline/beamline/transforms/aggregate"
	"github.com/beamline/beamline/transforms/dedupe"
	"github.com/beamline/beamline/transforms/enrich"
	"github.com/beamline/beamline/transforms/filter"
	"github.com/beamline/beamline/transforms/scope"
)

func TestMain(m *testing.M) {
	code := ptest.MainRet(m)
	if built.dir != "" {
		os.RemoveAll(built.dir) // the job binary of the subprocess tests (about 140 MB)
	}
	os.Exit(code)
}

const categories = "../../testdata/reference/categories.csv"

// testConfig is a streaming job that writes under a fresh directory.
func testConfig(t *testing.T, src string) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{
		Source: src, Store: "sqlite://" + filepath.Join(dir, "views.db"),
		Archive: filepath.Join(dir, "lake"), DeadLetter: filepath.Join(dir, "deadletter"),
		Reference: categories, Bots: reference.DefaultBotPatterns, Blocked: []string{"u-blocked"},
		ReferenceRefresh: time.Minute, EarlyFiring: time.Second, WarmRestart: true,
	}
}

// rowsOf reads every row of layer in [from, to) from the store at url, sorted.
func rowsOf(t *testing.T, url string, layer views.Layer, from, to time.Time) []views.Row {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []views.Row
	for _, spec := range views.All() {
		rows, err := st.Query(ctx, store.Query{View: spec.Name, Layer: layer, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			r.Layer = ""
			all = append(all, r)
		}
	}
	return sortRows(all)
}

func sortRows(rows []views.Row) []views.Row {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b views.Row) int {
		return strings.Compare(a.View+"\x00"+a.Key+"\x00"+a.WindowStart.Format(time.RFC3339),
			b.View+"\x00"+b.Key+"\x00"+b.WindowStart.Format(time.RFC3339))
	})
	return out
}

// withoutLayer returns rows with their layer cleared, sorted, to compare layers.
func withoutLayer(rows []views.Row) []views.Row {
	out := make([]views.Row, len(rows))
	for i, r := range rows {
		r.Layer = ""
		out[i] = r
	}
	return sortRows(out)
}

// expected computes the views of the archive's days with the independent reference, with
// the job's filters and no range filter.
func expected(t *testing.T, cfg Config, from, to time.Time) reference.Result {
	t.Helper()
	recs, err := reference.ReadLake(cfg.Archive, from, to)
	if err != nil {
		t.Fatal(err)
	}
	cats, err := reference.ReadCategories(cfg.Reference)
	if err != nil {
		t.Fatal(err)
	}
	return reference.Compute(reference.Config{From: from, To: to, Categories: cats,
		Countries: cfg.Countries, BotPatterns: cfg.Bots, BlockedUsers: cfg.Blocked}, recs)
}

// backfill runs the batch job's graph (graph.Batch, as pipelines/batch builds it) over the
// archive into the store's batch layer, one run per day of from..to as the nightly schedule
// does, each reading its neighbouring days as context, and publishes each run.
func backfill(t *testing.T, cfg Config, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	prefixes, err := enrich.ReadCSV(ctx, cfg.Reference)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for day := from; !day.After(to); day = day.AddDate(0, 0, 1) {
		sc := scope.ForDays(day, day, dedupe.DefaultTTL, aggregate.SessionGap, 6*time.Hour)
		first, last := sc.Partitions()
		parts, err := lake.List(ctx, cfg.Archive, first, last)
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, p := range parts {
			files = append(files, p.Files...)
		}
		run := "run-backfill-" + day.Format(time.DateOnly)
		p, s := beam.NewPipelineWithRoot()
		f := filter.Config{BotPatterns: cfg.Bots, BlockedUsers: cfg.Blocked}
		raws, _ := lake.Read(s, cfg.Archive, files, lake.ReadOptions{})
		out := graph.Batch(s, graph.BatchConfig{Config: graph.Config{Filter: f, Prefixes: prefixes}, Scope: sc}, raws)
		storeio.WriteBatch(s, cfg.Store, run, out.Rows)
		if err := ptest.Run(p); err != nil {
			t.Fatalf("backfill of the archive's day %s: %v", day.Format(time.DateOnly), err)
		}
		if err := st.Publish(ctx, run, []time.Time{day}); err != nil {
			t.Fatal(err)
		}
	}
}

// diffRows fails t when got differs from want.
func diffRows(t *testing.T, what string, want, got []views.Row) {
	t.Helper()
	if d := cmp.Diff(withoutLayer(want), withoutLayer(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// deadLetters reads every dead letter written under dir.
func deadLetters(t *testing.T, dir string) []deadletter.Line {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, dir+"/*/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []deadletter.Line
	for _, f := range files {
		rc, err := fs.OpenRead(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var dl deadletter.Line
			if err := json.Unmarshal([]byte(line), &dl); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, dl)
		}
	}
	return out
}

// eventParse parses a record as the job does.
func eventParse(b []byte) (event.Event, error) { return event.Parse(b) }
