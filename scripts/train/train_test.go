package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"

	"github.com/beamline/beamline/transforms/score/logreg"
)

var update = flag.Bool("update", false, "rewrite testdata/model/posts.jsonl and spam.json")

const (
	dataFile  = "../../testdata/model/posts.jsonl"
	modelFile = "../../testdata/model/spam.json"
)

// The quality bar on the held-out posts, with a margin below what the committed model does
// (precision 0.974, recall 0.893) for other seeds and platforms.
const (
	minPrecision = 0.90
	minRecall    = 0.85
)

// TestCommittedFilesAreReproducible regenerates the labelled posts and retrains the model from
// the default seed, and compares both with the committed files (weights within 1e-3: training
// sums floats, and a platform that fuses multiply-adds may round differently).
func TestCommittedFilesAreReproducible(t *testing.T) {
	data := generate(defaults.params.Seed, defaults.examples)
	if *update {
		if err := os.WriteFile(dataFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, committed) {
		t.Fatalf("%s is not what seed %d generates: run go run ./scripts/train --generate (or this test with -update)", dataFile, defaults.params.Seed)
	}
	tmp := filepath.Join(t.TempDir(), "posts.jsonl")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, _, err := build(tmp, defaults.holdout, defaults.params)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(modelFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got, want logreg.File
	mustUnmarshal(t, b, &got)
	mustUnmarshal(t, readFile(t, modelFile), &want)
	if got.Bits != want.Bits || math.Abs(got.Bias-want.Bias) > 1e-3 || len(got.Weights) != len(want.Weights) {
		t.Fatalf("retrained model: bits %d, bias %v, %d weights; committed: bits %d, bias %v, %d weights",
			got.Bits, got.Bias, len(got.Weights), want.Bits, want.Bias, len(want.Weights))
	}
	for k, w := range want.Weights {
		if math.Abs(got.Weights[k]-w) > 1e-3 {
			t.Errorf("weight of bucket %s: retrained %v, committed %v", k, got.Weights[k], w)
		}
	}
}

// TestHeldOutQuality evaluates the committed model file, read as the jobs read it, on the
// held-out posts.
func TestHeldOutQuality(t *testing.T) {
	m, err := logreg.Read(context.Background(), modelFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dataFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := readExamples(f)
	if err != nil {
		t.Fatal(err)
	}
	_, test := split(all, defaults.holdout)
	q := evaluate(m, test, defaultThreshold)
	t.Logf("held-out: %+v", q)
	checkQuality(t, q)
	var file struct {
		Training struct{ Heldout quality }
	}
	mustUnmarshal(t, readFile(t, modelFile), &file)
	if file.Training.Heldout != q {
		t.Errorf("the model file records held-out quality %+v, evaluation gives %+v", file.Training.Heldout, q)
	}
}

// TestOtherSeed checks that the recipe, not one lucky seed, meets the bar.
func TestOtherSeed(t *testing.T) {
	p := defaults.params
	p.Seed = 7
	tmp := filepath.Join(t.TempDir(), "posts.jsonl")
	if err := os.WriteFile(tmp, generate(p.Seed, defaults.examples), 0o644); err != nil {
		t.Fatal(err)
	}
	_, q, err := build(tmp, defaults.holdout, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d held-out: %+v", p.Seed, q)
	checkQuality(t, q)
}

func checkQuality(t *testing.T, q quality) {
	t.Helper()
	if q.Examples < 500 || q.Positives < 100 {
		t.Fatalf("held-out split too small: %+v", q)
	}
	if q.Precision < minPrecision || q.Recall < minRecall {
		t.Errorf("precision %.3f, recall %.3f; want at least %.2f and %.2f", q.Precision, q.Recall, minPrecision, minRecall)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
