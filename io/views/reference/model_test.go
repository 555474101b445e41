package reference_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/beamline/beamline/io/views"
	"github.com/beamline/beamline/io/views/reference"
)

const (
	modelFile  = "../../../testdata/model/spam.json"
	postsFile  = "../../../testdata/model/posts.jsonl"
	heldoutOf4 = 4 // the trainer holds out the latest quarter of the posts
)

// TestModelMatchesTrainer scores the trainer's held-out posts with the reference's own reading
// of the model file and compares precision and recall with what the trainer recorded in the
// file (computed with the jobs' driver): the two featurizers agree on every post, or the
// figures would differ.
func TestModelMatchesTrainer(t *testing.T) {
	m, err := reference.ReadModel(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Training struct {
			Heldout struct {
				Examples          int
				Precision, Recall float64
			}
		}
	}
	b, err := os.ReadFile(modelFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(postsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type post struct{ Text, UserAgent, URL, Label string }
	var all []post
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p struct {
			Text      string `json:"text"`
			UserAgent string `json:"user_agent"`
			URL       string `json:"url"`
			Label     string `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		all = append(all, post{p.Text, p.UserAgent, p.URL, p.Label})
	}
	held := all[len(all)-len(all)/heldoutOf4:]
	flagged := m.Flagged(0.5)
	var tp, fp, fn int
	for _, p := range held {
		got, want := flagged(p.Text, p.UserAgent, p.URL), p.Label != "normal"
		switch {
		case got && want:
			tp++
		case got:
			fp++
		case want:
			fn++
		}
	}
	precision, recall := float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
	h := file.Training.Heldout
	if h.Examples != len(held) || math.Abs(precision-h.Precision) > 1e-6 || math.Abs(recall-h.Recall) > 1e-6 {
		t.Errorf("reference on %d held-out posts: precision %.6f, recall %.6f; trainer recorded %d posts, %.6f, %.6f",
			len(held), precision, recall, h.Examples, h.Precision, h.Recall)
	}
}

func TestFlaggedCountsPostsOnly(t *testing.T) {
	cfg := baseConfig()
	var asked []string
	cfg.Flagged = func(text, userAgent, url string) bool {
		asked = append(asked, text)
		return text == "buy now"
	}
	res := compute(t, cfg,
		ev("event_id", "p1", "type", "post", "text", "buy now", "url", del),
		ev("event_id", "p2", "type", "post", "text", "hello"),
		ev("event_id", "c1", "type", "click", "text", "buy now"),
	)
	if len(asked) != 2 {
		t.Errorf("Flagged asked about %q, want the two posts only", asked)
	}
	got := map[string]int64{}
	for _, r := range res.Rows {
		if f, ok := r.Metrics[views.MetricFlagged]; ok {
			got[r.View+" "+r.Key] += f
		}
	}
	want := map[string]int64{"country_activity DE": 1, "category_activity unknown": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("flagged of %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func TestReadModelErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":   `{`,
		"format":     `{"format":"other","bits":4}`,
		"bad bucket": `{"format":"beamline.logreg/v1","bits":4,"weights":{"x":1}}`,
	} {
		path := dir + "/" + name + ".json"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := reference.ReadModel(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := reference.ReadModel(dir + "/missing.json"); err == nil {
		t.Error("missing file: no error")
	}
}
