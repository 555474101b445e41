package scripts_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/store"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
	"github.com/beamline/beamline/serving/api"
)

// The three days of the nightly lake.
var (
	night1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	night3 = night1.AddDate(0, 0, 2)
)

// nightlyLake writes a three-day lake with what the nightly schedule meets around midnight:
// generated traffic (sessions, duplicates, late events, bots, garbage), part of it filed in the
// neighbouring day's partition (as a lake filled by arrival time is) and a little of it two
// days off (out_of_range there), plus hand-made records: sessions that cross midnight both ways
// and a chain of events that goes on for hours past it, copies of one ID on two days (within
// and beyond the dedupe TTL), an identical copy filed on the next day, lower-case and missing
// countries.
func nightlyLake(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "lake")
	l := lakeFiles{}
	rng := rand.New(rand.NewPCG(3, 9))
	gen := generator.New(generator.Config{Seed: 17, Start: night1, EventsPerSecond: 0.08, Users: 1500,
		DupFraction: 0.04, LateFraction: 0.05, BadFraction: 0.02, BotFraction: 0.02, MaxLateness: 20 * time.Minute})
	for {
		rec := gen.Next()
		if !rec.Arrival.Before(night3.AddDate(0, 0, 1)) {
			break
		}
		at := rec.EventTime
		if rec.Kind == generator.Bad {
			at = rec.Arrival
		}
		switch u := rng.Float64(); {
		case u < 0.03:
			at = at.AddDate(0, 0, 1) // filed by arrival a day late
		case u < 0.04:
			at = at.AddDate(0, 0, -1)
		case u < 0.042:
			at = at.AddDate(0, 0, 2) // two days off: out_of_range in that partition
		}
		l.add(at, rec.Raw)
	}
	ev := func(id, user, country string, at time.Time) []byte {
		c := ""
		if country != "" {
			c = fmt.Sprintf(`"country":%q,`, country)
		}
		return fmt.Appendf(nil, `{"event_id":%q,"type":"click","user_id":%q,"url":"https://shop.example/p/%d",%s"ts":%q}`,
			id, user, len(id), c, at.Format(time.RFC3339Nano))
	}
	mid2 := night1.AddDate(0, 0, 1)
	// A chain every 20 minutes from 22:00 to 03:00: one session of 5 hours, in day 1's 22:00 hour.
	for i, at := 0, night1.Add(22*time.Hour); !at.After(mid2.Add(3 * time.Hour)); i, at = i+1, at.Add(20*time.Minute) {
		l.add(at, ev("x-chain-"+strconv.Itoa(i), "u-night", "de", at))
	}
	// Day 2 into day 3: 23:45 and 00:10 are one session of day 2; 00:50 (40 min later) starts one of day 3.
	for i, at := range []time.Time{night3.Add(-15 * time.Minute), night3.Add(10 * time.Minute), night3.Add(50 * time.Minute)} {
		l.add(at, ev("x-gap-"+strconv.Itoa(i), "u-gap", "", at))
	}
	// A session of day 3 whose first event sits in day 2's partition (filed early by a skewed clock).
	l.add(mid2.Add(23*time.Hour+50*time.Minute), ev("x-early-0", "u-skew", "fr", night3.Add(5*time.Minute)))
	l.add(night3.Add(20*time.Minute), ev("x-early-1", "u-skew", "fr", night3.Add(20*time.Minute)))
	// Copies of one ID on two days: the later copy is a duplicate, counted by its own day's run.
	l.add(night1.Add(23*time.Hour+58*time.Minute), ev("x-dup-a", "u-dup", "us", night1.Add(23*time.Hour+58*time.Minute)))
	l.add(mid2.Add(3*time.Minute), ev("x-dup-a", "u-dup", "us", mid2.Add(3*time.Minute)))
	// The same bytes filed on day 1 and again (re-delivered) in day 2's partition.
	same := ev("x-dup-b", "u-dup2", "gb", night1.Add(23*time.Hour+59*time.Minute))
	l.add(night1.Add(23*time.Hour+59*time.Minute), same)
	l.add(mid2.Add(time.Hour), same)
	// Within the TTL (23 h, then 2 h later: a chain), and beyond it (25 h: counted again).
	for i, at := range []time.Time{night1.Add(10 * time.Hour), mid2.Add(9 * time.Hour), mid2.Add(11 * time.Hour)} {
		l.add(at, ev("x-ttl-in", "u-ttl"+strconv.Itoa(i), "nl", at))
	}
	for i, at := range []time.Time{night1.Add(8 * time.Hour), mid2.Add(9 * time.Hour)} {
		l.add(at, ev("x-ttl-out", "u-ttlo"+strconv.Itoa(i), "es", at))
	}
	l.write(t, root, rng)
	return root
}

// lakeFiles collects lines per hour partition.
type lakeFiles map[time.Time][][]byte

func (l lakeFiles) add(at time.Time, line []byte) {
	h := at.UTC().Truncate(time.Hour)
	l[h] = append(l[h], line)
}

// write writes each hour as two files, one of them gzipped, with the lines shuffled.
func (l lakeFiles) write(t *testing.T, root string, rng *rand.Rand) {
	t.Helper()
	for h, lines := range l {
		rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		dir := filepath.Join(root, "raw", "dt="+h.Format(time.DateOnly), fmt.Sprintf("hr=%02d", h.Hour()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		half := len(lines) / 2
		var plain, zipped bytes.Buffer
		plain.Write(append(bytes.Join(lines[:half], []byte("\n")), '\n'))
		gz := gzip.NewWriter(&zipped)
		gz.Write(append(bytes.Join(lines[half:], []byte("\n")), '\n'))
		gz.Close()
		for name, b := range map[string][]byte{"a.jsonl": plain.Bytes(), "b.jsonl.gz": zipped.Bytes()} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNightlyMatchesWholeRange backfills a three-day lake three ways: one run per day in order
// (backfill.sh's default), one run per day in reverse order, and one run over the whole range.
// Each store, read through the serving API, must hold exactly the rows of the independent
// reference computed over the whole lake, and the per-day runs' conservation counts must add
// up to the reference's counts: every record counted once, by the run of its own day.
func TestNightlyMatchesWholeRange(t *testing.T) {
	lakeDir := nightlyLake(t)
	recs, err := reference.ReadLake(lakeDir, night1.AddDate(0, 0, -3), night3.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	cats, err := reference.ReadCategories(categories)
	if err != nil {
		t.Fatal(err)
	}
	want := reference.Compute(reference.Config{From: night1, To: night3, Categories: cats, BotPatterns: reference.DefaultBotPatterns}, recs)
	checkEdges(t, want)

	days := []string{"2026-11-20", "2026-11-21", "2026-11-22"}
	ways := []struct {
		name string
		runs [][]string // backfill.sh arguments of each call
	}{
		{"per day in order", [][]string{{"--from=" + days[0], "--to=" + days[2]}}},
		{"per day in reverse order", [][]string{{"--from=" + days[2]}, {"--from=" + days[1]}, {"--from=" + days[0]}}},
		{"whole range", [][]string{{"--from=" + days[0], "--to=" + days[2], "--range"}}},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			storeURL := "sqlite://" + filepath.Join(dir, "views.db")
			env := []string{"BEAMLINE_LAKE=" + lakeDir, "BEAMLINE_STORE=" + storeURL,
				"BEAMLINE_DEADLETTER=" + filepath.Join(dir, "dead"), "BEAMLINE_REFERENCE=" + categories,
				"BEAMLINE_BATCH_BIN=" + batchBinary(t)}
			var got reference.Counts
			for _, args := range w.runs {
				r := script(t, 3*time.Minute, env, "backfill.sh", args...)
				if r.code != 0 {
					t.Fatalf("backfill.sh %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
				}
				addCounts(t, &got, r.stdout)
			}
			if d := gocmp.Diff(nonZeroCounts(want.Counts), nonZeroCounts(got)); d != "" {
				t.Errorf("counts summed over the runs differ from the reference over the whole lake (-want +got):\n%s", d)
			}
			if d := gocmp.Diff(sortedRows(want.Rows), sortedRows(servedRows(t, storeURL))); d != "" {
				t.Errorf("served rows differ from the reference over the whole lake (-want +got):\n%s", d)
			}
		})
	}
}

// checkEdges fails the test unless the lake has the edges it is meant to have, so that it
// cannot pass by lacking them.
func checkEdges(t *testing.T, want reference.Result) {
	t.Helper()
	var crossing, chain bool
	for _, r := range want.Rows {
		if r.View != views.Sessions {
			continue
		}
		if r.Key == "DE" && r.WindowStart.Equal(night1.Add(22*time.Hour)) && r.Metrics["duration_s"] >= 5*3600 {
			chain = true
		}
		if r.Key == "ZZ" && r.WindowStart.Equal(night3.Add(-time.Hour)) {
			crossing = true
		}
	}
	if !chain || !crossing {
		t.Errorf("the reference lacks the hand-made sessions (5-hour chain %v, u-gap's crossing session %v)", chain, crossing)
	}
	if want.Counts.Filtered["out_of_range"] == 0 || want.Counts.Duplicates == 0 {
		t.Errorf("counts %+v: want out_of_range records and duplicates", want.Counts)
	}
}

var (
	countsRE  = regexp.MustCompile(`(?m)^read (\d+), processed (\d+), filtered (\d+), duplicates (\d+), dead-lettered (\d+)$`)
	detailsRE = regexp.MustCompile(`(?m)^filtered by: (.*); dead-lettered by: (.*)$`)
)

// addCounts adds the conservation counts of every run that out reports to c.
func addCounts(t *testing.T, c *reference.Counts, out string) {
	t.Helper()
	lines, details := countsRE.FindAllStringSubmatch(out, -1), detailsRE.FindAllStringSubmatch(out, -1)
	if len(lines) == 0 || len(lines) != len(details) {
		t.Fatalf("no conservation lines in:\n%s", out)
	}
	n := func(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }
	if c.Filtered == nil {
		c.Filtered, c.DeadLettered = map[string]int64{}, map[string]int64{}
	}
	for i, l := range lines {
		c.Read += n(l[1])
		c.Processed += n(l[2])
		c.Duplicates += n(l[4])
		for j, m := range []map[string]int64{c.Filtered, c.DeadLettered} {
			for _, part := range strings.Split(details[i][j+1], ", ") {
				name, v, _ := strings.Cut(part, " ")
				m[name] += n(v)
			}
		}
	}
}

func nonZeroCounts(c reference.Counts) reference.Counts {
	for _, m := range []*map[string]int64{&c.Filtered, &c.DeadLettered} {
		out := map[string]int64{}
		for k, v := range *m {
			if v != 0 {
				out[k] = v
			}
		}
		*m = out
	}
	c.Context = 0 // each run reads its own context; over the whole lake there is none
	return c
}

// servedRows reads every row of the three days back through the serving API, as users see
// them: each view's keys, then each key's rows at the view's own granularity.
func servedRows(t *testing.T, storeURL string) []views.Row {
	t.Helper()
	st, err := store.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(api.New(st, &api.Options{CacheEntries: -1, StateRefresh: -1}))
	defer srv.Close()
	span := "from=" + night1.Format(time.RFC3339) + "&to=" + night3.AddDate(0, 0, 1).Format(time.RFC3339)
	var rows []views.Row
	for _, spec := range views.All() {
		var keys struct{ Keys []string }
		getJSON(t, srv.URL+"/v1/views/"+spec.Name+"/keys?"+span, &keys)
		for _, key := range keys.Keys {
			var ans struct {
				Rows []struct {
					Start   string `json:"window_start"`
					End     string `json:"window_end"`
					Layer   views.Layer
					Metrics map[string]int64
				}
			}
			getJSON(t, srv.URL+"/v1/views/"+spec.Name+"?key="+url.QueryEscape(key)+"&"+span, &ans)
			for _, r := range ans.Rows {
				start, err1 := time.Parse(time.RFC3339, r.Start)
				end, err2 := time.Parse(time.RFC3339, r.End)
				if err1 != nil || err2 != nil || r.Layer != views.Batch {
					t.Fatalf("%s %q: bad row %+v", spec.Name, key, r)
				}
				rows = append(rows, views.Row{View: spec.Name, Key: key, WindowStart: start, WindowEnd: end, Metrics: r.Metrics, Layer: r.Layer})
			}
		}
	}
	return rows
}

func sortedRows(rows []views.Row) []views.Row {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b views.Row) int {
		return cmp.Or(strings.Compare(a.View, b.View), strings.Compare(a.Key, b.Key), a.WindowStart.Compare(b.WindowStart))
	})
	return out
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
