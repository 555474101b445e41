// Command train trains the embedded spam and abuse model (transforms/score/logreg) from
// labelled posts, evaluates it on a held-out split and writes the model file.
//
// Everything is reproducible from the seed: the labelled posts come from
// io/generator.NewPosts, training shuffles with a seeded generator, and the held-out split is the
// latest quarter of the posts.
//
// # Usage
//
//	go run ./scripts/train --generate   # rewrite testdata/model/posts.jsonl, then train
//	go run ./scripts/train              # train on testdata/model/posts.jsonl
//
// It writes testdata/model/spam.json and prints precision and recall on the held-out posts;
// scripts/train's tests check that both files are what the seed gives and that the model
// still meets its quality bar.
package main

import (
	"flag"
	"fmt"
	"os"
)

// Defaults, which made the committed files.
var defaults = struct {
	data, model string
	examples    int
	holdout     float64
	params      params
}{
	data: "testdata/model/posts.jsonl", model: "testdata/model/spam.json", examples: 4000, holdout: 0.25,
	params: params{Seed: 1, Bits: 18, Epochs: 12, LearningRate: 0.2, L2: 1e-4},
}

func main() {
	p := defaults.params
	data := flag.String("data", defaults.data, "labelled posts, JSON lines with a label field")
	out := flag.String("model", defaults.model, "model file to write")
	gen := flag.Bool("generate", false, "generate the labelled posts from --seed into --data first")
	n := flag.Int("examples", defaults.examples, "posts to generate")
	holdout := flag.Float64("holdout", defaults.holdout, "fraction of the posts, the latest, held out for evaluation")
	flag.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the posts and of training")
	flag.IntVar(&p.Bits, "bits", p.Bits, "hash bits (2^bits weights)")
	flag.IntVar(&p.Epochs, "epochs", p.Epochs, "passes over the training posts")
	flag.Float64Var(&p.LearningRate, "learning_rate", p.LearningRate, "initial learning rate")
	flag.Float64Var(&p.L2, "l2", p.L2, "L2 regularisation")
	flag.Parse()

	if *gen {
		if err := os.WriteFile(*data, generate(p.Seed, *n), 0o644); err != nil {
			fail(err)
		}
	}
	b, q, err := build(*data, *holdout, p)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("held-out %d posts (%d flagged): precision %.3f, recall %.3f, F1 %.3f, accuracy %.3f at threshold %.2f\nwrote %s\n",
		q.Examples, q.Positives, q.Precision, q.Recall, q.F1, q.Accuracy, defaultThreshold, *out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "train:", err)
	os.Exit(1)
}
