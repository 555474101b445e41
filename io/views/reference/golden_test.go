package reference_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/views/reference"
)

var update = flag.Bool("update", false, "rewrite testdata/expected from the committed lake")

const (
	lakeDir      = "../../../testdata/lake"
	categoriesIn = "../../../testdata/reference/categories.csv"
	viewsGolden  = "../../../testdata/expected/views.csv"
	countsGolden = "../../../testdata/expected/counts.txt"
)

// goldenConfig is the run that testdata/expected holds.
func goldenConfig(t testing.TB) reference.Config {
	cats, err := reference.ReadCategories(categoriesIn)
	if err != nil {
		t.Fatal(err)
	}
	return reference.Config{
		From: day, To: day.AddDate(0, 0, 1), Categories: cats,
		BotPatterns: reference.DefaultBotPatterns, BlockedUsers: []string{"u-blocked"},
	}
}

// TestGolden checks the views and counts of the committed lake against testdata/expected;
// go test ./io/views/reference -update rewrites them.
func TestGolden(t *testing.T) {
	cfg := goldenConfig(t)
	recs, err := reference.ReadLake(lakeDir, cfg.From, cfg.To)
	if err != nil {
		t.Fatal(err)
	}
	res := reference.Compute(cfg, recs)
	var gotViews bytes.Buffer
	if err := reference.WriteCSV(&gotViews, res.Rows); err != nil {
		t.Fatal(err)
	}
	gotCounts := formatCounts(cfg, res.Counts)
	if *update {
		os.MkdirAll("../../../testdata/expected", 0o755)
		if err := os.WriteFile(viewsGolden, gotViews.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(countsGolden, []byte(gotCounts), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []struct{ file, got string }{{viewsGolden, gotViews.String()}, {countsGolden, gotCounts}} {
		want, err := os.ReadFile(g.file)
		if err != nil {
			t.Fatalf("%v (run go test ./io/views/reference -update to write it)", err)
		}
		if diff := cmp.Diff(string(want), g.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", g.file, diff)
		}
	}
}

// formatCounts formats counts as counts.txt: a comment on the run, the conservation line that
// the batch job prints, then one line per filter and dead-letter reason, then the records read
// as context (not part of read).
func formatCounts(cfg reference.Config, c reference.Counts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# reference.Compute over testdata/lake, days %s..%s (UTC, inclusive),\n",
		cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly))
	fmt.Fprintf(&b, "# categories testdata/reference/categories.csv, bot patterns %s, blocked users %s, all countries.\n",
		strings.Join(cfg.BotPatterns, ","), strings.Join(cfg.BlockedUsers, ","))
	fmt.Fprintf(&b, "read %d, processed %d, filtered %d, duplicates %d, dead-lettered %d\n",
		c.Read, c.Processed, sum(c.Filtered), c.Duplicates, sum(c.DeadLettered))
	for _, name := range sortedKeys(c.Filtered) {
		fmt.Fprintf(&b, "filtered %s %d\n", name, c.Filtered[name])
	}
	for _, name := range sortedKeys(c.DeadLettered) {
		fmt.Fprintf(&b, "dead_lettered %s %d\n", name, c.DeadLettered[name])
	}
	fmt.Fprintf(&b, "context %d\n", c.Context)
	return b.String()
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// benchRecords are one day of generated records at about 11.6 events a second.
var benchRecords = sync.OnceValue(func() []reference.Record {
	const n = 1_000_000
	g := generator.New(generator.Config{
		Seed: 1, Start: day, EventsPerSecond: n / 86400.0, Users: 50_000,
		DupFraction: 0.02, LateFraction: 0.05, BadFraction: 0.02, BotFraction: 0.03,
	})
	recs := make([]reference.Record, n)
	for i := range recs {
		recs[i] = reference.Record{Raw: g.Next().Raw, Source: "bench"}
	}
	return recs
})

// BenchmarkCompute runs Compute over 1M generated records and reports ns/event.
func BenchmarkCompute(b *testing.B) {
	recs := benchRecords()
	cfg := goldenConfig(b)
	cfg.To = cfg.From
	for b.Loop() {
		reference.Compute(cfg, recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/event")
}
