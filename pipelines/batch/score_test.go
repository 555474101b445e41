package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/deadletter"
	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/transforms/score/kserve"
	"github.com/beamline/beamline/transforms/score/logreg"
)

// scoredLake writes a two-day lake under a temporary directory: a clickstream with
// duplicates, late events, bots and garbage, plus labelled posts of which about a third are
// spam or abuse, so that the model has something to flag.
func scoredLake(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "lake")
	recs := generate(generator.Config{Seed: 21, Start: day1, EventsPerSecond: 0.02, Users: 200,
		DupFraction: 0.03, LateFraction: 0.05, BadFraction: 0.02, BotFraction: 0.03}, 3000)
	posts := generator.NewPosts(generator.PostsConfig{Seed: 22, Start: day1, EventsPerSecond: 0.005, Users: 200})
	for i := 0; i < 800; i++ {
		recs = append(recs, posts.Next().Record)
	}
	writeLake(t, root, "part-scored.jsonl", recs)
	return root
}

// metricTotal sums a metric of a view over rows.
func metricTotal(rows []views.Row, view, metric string) int64 {
	var n int64
	for _, r := range rows {
		if r.View == view {
			n += r.Metrics[metric]
		}
	}
	return n
}

// modelServer serves the embedded model with the KServe v2 protocol, behind wrap.
func modelServer(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	m, err := logreg.Read(context.Background(), modelFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wrap(kserve.Handler("spam", m)))
	t.Cleanup(srv.Close)
	return srv.URL + "/v2/models/spam"
}

// TestBackfillScoresLikeReference backfills a lake with spam and abuse posts, scoring with the
// embedded model and with the same model behind a KServe server, and checks every row
// (flagged included) and count against the reference, which scores with its own reading of
// the model file.
func TestBackfillScoresLikeReference(t *testing.T) {
	root := scoredLake(t)
	for name, model := range map[string]string{
		"embedded": "logreg://" + modelFile,
		"remote":   "kserve+" + modelServer(t, func(h http.Handler) http.Handler { return h }),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := sampleConfig(t)
			cfg.Lake, cfg.Model, cfg.ScoreThreshold = root, model, 0.6
			rep, err := Backfill(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := expected(t, cfg)
			if d := cmp.Diff(sortRows(want.Rows), sortRows(published(t, cfg))); d != "" {
				t.Errorf("published views differ from the reference (-want +got):\n%s", d)
			}
			if d := cmp.Diff(normalize(want.Counts), countsOf(rep)); d != "" {
				t.Errorf("counts differ from the reference (-want +got):\n%s", d)
			}
			posts, flagged := metricTotal(want.Rows, views.CountryActivity, views.MetricPosts), metricTotal(want.Rows, views.CountryActivity, views.MetricFlagged)
			if flagged < posts/10 || flagged > posts/2 {
				t.Errorf("reference flags %d of %d posts: the test lake should have about a quarter flagged", flagged, posts)
			}
			if got := rep.Views[views.CategoryActivity].Metrics[views.MetricFlagged]; got != flagged {
				t.Errorf("report: category_activity flagged = %d, want %d", got, flagged)
			}
		})
	}
}

// TestBackfillModelServerDown backfills with a model server that always fails: every kept post
// is dead-lettered as score_failed after the retries, counted once, and the run is still
// published with the conservation line intact.
func TestBackfillModelServerDown(t *testing.T) {
	down := modelServer(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"model unavailable"}`, http.StatusServiceUnavailable)
		})
	})
	cfg := sampleConfig(t)
	cfg.Lake, cfg.Model = scoredLake(t), "kserve+"+down+"?attempts=2&backoff=1ms"
	cfg.MaxDeadLetterRate = 0.5 // the posts are 30% of the records: the default gate would hold the run
	rep, err := Backfill(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Backfill: %v; want failures dead-lettered and the run published", err)
	}
	cfg.Model = ""
	want := expected(t, cfg)
	posts := metricTotal(want.Rows, views.CountryActivity, views.MetricPosts)
	if got := rep.DeadLettered["score_failed"]; got != posts || posts == 0 {
		t.Errorf("score_failed = %d, want every kept post (%d)", got, posts)
	}
	if rep.Lost() != 0 || rep.Processed != want.Counts.Processed-posts {
		t.Errorf("conservation: lost %d, processed %d; want 0 lost and %d processed (%d minus the %d posts)",
			rep.Lost(), rep.Processed, want.Counts.Processed-posts, want.Counts.Processed, posts)
	}
	rows := published(t, cfg)
	if n := metricTotal(rows, views.CountryActivity, views.MetricPosts); n != 0 {
		t.Errorf("published views count %d posts; a dead-lettered post must not count", n)
	}
	if got, want := metricTotal(rows, views.CountryActivity, views.MetricEvents), want.Counts.Processed-posts; got != want {
		t.Errorf("published views count %d events, want %d", got, want)
	}
	lines := scoreDeadLetters(t, cfg.DeadLetter)
	if int64(len(lines)) != posts {
		t.Errorf("dead-letter files hold %d score_failed records, want %d", len(lines), posts)
	}
}

// scoreDeadLetters returns the score_failed dead letters written under dir, checking that each
// carries the event's raw bytes, a detail and the event ID as its source (an event does not
// know its lake position).
func scoreDeadLetters(t *testing.T, dir string) []deadletter.Line {
	t.Helper()
	var out []deadletter.Line
	for _, dl := range readDeadLetters(t, dir) {
		if dl.Reason != "score_failed" {
			continue
		}
		var ev struct {
			ID string `json:"event_id"`
		}
		if err := json.Unmarshal(dl.Raw, &ev); err != nil || dl.Source != "event_id="+ev.ID || !strings.Contains(dl.Detail, "503") {
			t.Errorf("score_failed dead letter without its raw event, event_id source or cause: %+v", dl)
		}
		out = append(out, dl)
	}
	return out
}

// readDeadLetters reads every dead letter written under the local directory dir.
func readDeadLetters(t *testing.T, dir string) []deadletter.Line {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []deadletter.Line
	for _, f := range files {
		b, err := os.ReadFile(f)
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

// TestBadModelFailsFast checks that a wrong --model is reported before any pipeline runs.
func TestBadModelFailsFast(t *testing.T) {
	for model, msg := range map[string]string{
		"nope://x":         "unknown model driver",
		"testdata/x.json":  "want DRIVER://LOCATION",
		"logreg://missing": "--model",
	} {
		cfg := sampleConfig(t)
		cfg.Model = model
		if _, err := Backfill(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("--model=%s: error %v, want it to contain %q", model, err, msg)
		}
	}
	cfg := sampleConfig(t)
	cfg.ScoreThreshold = 2
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("--score_threshold=2: error %v", err)
	}
}
