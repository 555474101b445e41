package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/beamline/beamline/io/generator"
	"github.com/beamline/beamline/transforms/score"
	"github.com/beamline/beamline/transforms/score/logreg"
)

// dataStart is the event time of the first labelled post.
var dataStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// generate returns n labelled posts of seed as JSON lines.
func generate(seed uint64, n int) []byte {
	g := generator.NewPosts(generator.PostsConfig{Seed: seed, Start: dataStart, EventsPerSecond: 0.02, Users: 2000})
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.Write(g.Next().Raw)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// example is one labelled post.
type example struct {
	features score.Features
	flagged  bool
}

// readExamples reads labelled posts, JSON lines with text, user_agent, url and label.
func readExamples(r io.Reader) ([]example, error) {
	var out []example
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var p struct {
			Text      string `json:"text"`
			UserAgent string `json:"user_agent"`
			URL       string `json:"url"`
			Label     string `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch p.Label {
		case generator.LabelNormal, generator.LabelSpam, generator.LabelAbuse:
		default:
			return nil, fmt.Errorf("line %d: label %q", line, p.Label)
		}
		out = append(out, example{score.Features{Text: p.Text, UserAgent: p.UserAgent, URL: p.URL}, p.Label != generator.LabelNormal})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// split returns the first (1-holdout) of the examples for training and the rest, the latest
// posts, for evaluation: the model is judged on posts written after those it learned from.
func split(all []example, holdout float64) (train, test []example) {
	n := len(all) - int(math.Round(float64(len(all))*holdout))
	return all[:n], all[n:]
}

// params are the training hyper-parameters.
type params struct {
	Seed         uint64  `json:"seed"`
	Bits         int     `json:"bits"`
	Epochs       int     `json:"epochs"`
	LearningRate float64 `json:"learning_rate"`
	L2           float64 `json:"l2"`
}

// train fits a logistic regression by stochastic gradient descent with L2 regularisation, the
// examples shuffled by a generator seeded with p.Seed in each epoch, the rate decaying as
// 1/sqrt(epoch). Weights are rounded to 6 significant digits, as the file stores them.
func train(examples []example, p params) logreg.File {
	rng := rand.New(rand.NewPCG(p.Seed, 0x747261696e)) // "train"
	xs := make([][]uint32, len(examples))
	for i, e := range examples {
		xs[i] = logreg.Buckets(e.features, p.Bits, nil)
	}
	w := make([]float64, 1<<uint(p.Bits))
	bias := 0.0
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	for epoch := 1; epoch <= p.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		lr := p.LearningRate / math.Sqrt(float64(epoch))
		for _, i := range order {
			z := bias
			for _, b := range xs[i] {
				z += w[b]
			}
			y := 0.0
			if examples[i].flagged {
				y = 1
			}
			g := 1/(1+math.Exp(-z)) - y
			bias -= lr * g
			for _, b := range xs[i] {
				w[b] -= lr * (g + p.L2*w[b])
			}
		}
	}
	weights := map[string]float64{}
	for b, v := range w {
		if v = round6(v); v != 0 {
			weights[strconv.Itoa(b)] = v
		}
	}
	return logreg.File{Format: logreg.Format, Bits: p.Bits, Bias: round6(bias), Threshold: score.DefaultThreshold, Weights: weights}
}

func round6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}

// quality is how a model does on labelled examples at a threshold.
type quality struct {
	Examples  int     `json:"examples"`
	Positives int     `json:"positives"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Accuracy  float64 `json:"accuracy"`
}

// evaluate scores examples with m and compares flagged (score >= threshold) with the labels.
func evaluate(m *logreg.Model, examples []example, threshold float64) quality {
	var tp, fp, fn, tn int
	for _, e := range examples {
		flagged := float64(m.Score(e.features)) >= threshold
		switch {
		case flagged && e.flagged:
			tp++
		case flagged:
			fp++
		case e.flagged:
			fn++
		default:
			tn++
		}
	}
	q := quality{Examples: len(examples), Positives: tp + fn}
	q.Precision = ratio(tp, tp+fp)
	q.Recall = ratio(tp, tp+fn)
	if q.Precision+q.Recall > 0 {
		q.F1 = round6(2 * q.Precision * q.Recall / (q.Precision + q.Recall))
	}
	q.Accuracy = ratio(tp+tn, len(examples))
	return q
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return round6(float64(a) / float64(b))
}
