package generator_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/io/views/reference"
)

func takePosts(cfg generator.PostsConfig, n int) []generator.Post {
	g := generator.NewPosts(cfg)
	out := make([]generator.Post, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func TestPostsDeterministic(t *testing.T) {
	cfg := generator.PostsConfig{Seed: 3, Start: start}
	a, b := takePosts(cfg, 2000), takePosts(cfg, 2000)
	if d := cmp.Diff(a, b); d != "" {
		t.Fatalf("same seed, different posts (-first +second):\n%s", d)
	}
	cfg.Seed = 4
	c := takePosts(cfg, 2000)
	same := 0
	for i := range a {
		if string(a[i].Raw) == string(c[i].Raw) {
			same++
		}
	}
	if same > 20 {
		t.Errorf("seeds 3 and 4 gave %d of %d identical posts", same, len(a))
	}
}

func TestPostsLabels(t *testing.T) {
	const n = 40000
	cfg := generator.PostsConfig{Seed: 1, Start: start, SpamFraction: 0.25, AbuseFraction: 0.05, LabelNoise: 0.04}
	truth := map[string]float64{}
	var noisy float64
	for _, p := range takePosts(cfg, n) {
		truth[p.Truth] += 1.0 / n
		if p.Label != p.Truth {
			noisy += 1.0 / n
			if (p.Label == generator.LabelNormal) == (p.Truth == generator.LabelNormal) {
				t.Fatalf("noise swapped %s for %s: both flagged or both not", p.Truth, p.Label)
			}
		}
	}
	want := map[string]float64{generator.LabelSpam: 0.25, generator.LabelAbuse: 0.05, generator.LabelNormal: 0.7}
	for label, w := range want {
		if math.Abs(truth[label]-w) > 0.01 {
			t.Errorf("fraction of %s posts = %.4f, want %.2f", label, truth[label], w)
		}
	}
	if math.Abs(noisy-0.04) > 0.005 {
		t.Errorf("fraction of wrong labels = %.4f, want 0.04", noisy)
	}
	none := takePosts(generator.PostsConfig{Seed: 1, LabelNoise: -1}, 5000)
	for _, p := range none {
		if p.Label != p.Truth {
			t.Fatalf("LabelNoise < 0: post %s labelled %s", p.Truth, p.Label)
		}
	}
}

// TestPostsAreEvents checks that every post is a valid post event for the reference, that
// its label field is Label, and that event IDs are unique and unlike the clickstream's.
func TestPostsAreEvents(t *testing.T) {
	cfg := reference.Config{From: start, To: start.AddDate(0, 0, 30), BotPatterns: reference.DefaultBotPatterns}
	ids := map[string]bool{}
	texts := map[string]bool{}
	for i, p := range takePosts(generator.PostsConfig{Seed: 5, Start: start}, 3000) {
		counts := reference.Compute(cfg, []reference.Record{{Raw: p.Raw}}).Counts
		if counts.Processed != 1 {
			t.Fatalf("post %d %q: counts %+v, want processed", i, p.Raw, counts)
		}
		var ev struct {
			EventID           string `json:"event_id"`
			Type, Text, Label string
		}
		if err := json.Unmarshal(p.Raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "post" || ev.Label != p.Label || ev.Text == "" {
			t.Errorf("post %d %q: type %q, label %q (want %q), text %q", i, p.Raw, ev.Type, ev.Label, p.Label, ev.Text)
		}
		if ids[ev.EventID] || !strings.HasPrefix(ev.EventID, "p-5-") {
			t.Errorf("post %d: event_id %q repeated or without the posts prefix", i, ev.EventID)
		}
		ids[ev.EventID] = true
		texts[ev.Text] = true
		checkEvent(t, p.Record)
	}
	if len(texts) < 500 {
		t.Errorf("%d distinct texts in 3000 posts: too few to learn anything general", len(texts))
	}
}
