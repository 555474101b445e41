// Package logreg is the embedded model driver of package score: a logistic regression over
// hashed features of a post's text, user agent and URL, in pure Go, read from a JSON file on
// any filesystem Beam knows (the binary imports the filesystem drivers).
//
// # Usage
//
//	import _ "github.com/beamline/beamline/transforms/score/logreg"
//
//	score.Config{Model: "logreg://testdata/model/spam.json"}    // relative local path
//	score.Config{Model: "logreg:///srv/models/spam.json"}       // absolute local path
//	score.Config{Model: "logreg+gs://bucket/models/spam.json"}  // or logreg+s3://...
//
// # Features
//
// The text, the user agent and the URL are each lower-cased (as strings.ToLower does) and cut
// into tokens, the maximal runs of letters and digits (unicode.IsLetter, unicode.IsDigit).
// The features of an event are, in this order and once per occurrence:
//
//  1. "t:" + token, for each token of the text;
//  2. "b:" + token + " " + next token, for each pair of adjacent tokens of the text;
//  3. "c:" + rune, for each rune of the lower-cased text that is not a letter, a digit or
//     white space (unicode.IsSpace), such as "!", "$" or an emoji;
//  4. "a:" + token, for each token of the user agent;
//  5. "u:" + token, for each token of the URL.
//
// A feature's bucket is the 32-bit FNV-1a hash of its UTF-8 bytes modulo 2^bits. The score is
// float32(1 / (1 + exp(-z))), where z is the bias plus the weight of the bucket of each
// feature, added in float64 in the order above.
//
// # File format
//
//	{
//	  "format": "beamline.logreg/v1",
//	  "bits": 18,
//	  "bias": -1.5,
//	  "threshold": 0.5,
//	  "weights": {"1234": 0.75, "98765": -0.25},
//	  "training": {"seed": 1, ...}
//	}
//
// weights maps bucket numbers (decimal strings) to weights; buckets not listed weigh 0.
// threshold is the threshold the model was evaluated at (the jobs take theirs from a flag);
// training is free-form metadata written by the trainer (scripts/train).
package logreg

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/beamline/beamline/transforms/score"
)

// Format is the value of the file's "format" field.
const Format = "beamline.logreg/v1"

// MaxBits bounds the number of hash bits (2^MaxBits weights).
const MaxBits = 24

// maxFileSize bounds what Read reads.
const maxFileSize = 256 << 20

func init() {
	score.Register("logreg", func(ctx context.Context, location string) (score.Model, error) {
		return Read(ctx, location)
	})
}

// File is the JSON form of a model.
type File struct {
	// Format is always Format.
	Format string `json:"format"`
	// Bits is the number of hash bits: the model has 2^Bits weights.
	Bits int `json:"bits"`
	// Bias is the intercept.
	Bias float64 `json:"bias"`
	// Threshold is the threshold the model was evaluated at.
	Threshold float64 `json:"threshold"`
	// Weights maps bucket numbers, in decimal, to their non-zero weights.
	Weights map[string]float64 `json:"weights"`
	// Training is the trainer's free-form metadata.
	Training map[string]any `json:"training,omitempty"`
}

// Model is a loaded logistic regression; it implements score.Model and is safe for
// concurrent use.
type Model struct {
	bits    int
	bias    float64
	weights []float64
	pool    sync.Pool // of *featurizer
}

var _ score.Model = (*Model)(nil)

// New returns the model of f.
func New(f File) (*Model, error) {
	if f.Format != Format {
		return nil, fmt.Errorf("logreg: format %q, want %q", f.Format, Format)
	}
	if f.Bits < 1 || f.Bits > MaxBits {
		return nil, fmt.Errorf("logreg: bits %d not in [1, %d]", f.Bits, MaxBits)
	}
	if math.IsNaN(f.Bias) || math.IsInf(f.Bias, 0) {
		return nil, fmt.Errorf("logreg: bias %v", f.Bias)
	}
	m := &Model{bits: f.Bits, bias: f.Bias, weights: make([]float64, 1<<uint(f.Bits))}
	for k, w := range f.Weights {
		b, err := strconv.ParseUint(k, 10, 32)
		if err != nil || b >= uint64(len(m.weights)) {
			return nil, fmt.Errorf("logreg: weight key %q is not a bucket below 2^%d", k, f.Bits)
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("logreg: weight of bucket %s is %v", k, w)
		}
		m.weights[b] = w
	}
	m.pool.New = func() any { return newFeaturizer(m.bits) }
	return m, nil
}

// Parse parses a model file.
func Parse(b []byte) (*Model, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("logreg: parse: %w", err)
	}
	return New(f)
}

// Read reads the model file at path, on any filesystem Beam knows.
func Read(ctx context.Context, path string) (*Model, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("logreg: read %s: %w", path, err)
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("logreg: read %s: %w", path, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("logreg: read %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("logreg: read %s: larger than %d bytes", path, maxFileSize)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return m, nil
}

// Bits returns the model's number of hash bits.
func (m *Model) Bits() int { return m.bits }

// Score returns the score of one event.
func (m *Model) Score(f score.Features) float32 {
	z := m.pool.Get().(*featurizer)
	defer m.pool.Put(z)
	return m.score(z, f)
}

func (m *Model) score(z *featurizer, f score.Features) float32 {
	sum := m.bias
	z.each(f, func(b uint32) { sum += m.weights[b] })
	return float32(1 / (1 + math.Exp(-sum)))
}

// Predict scores a batch; it never fails.
func (m *Model) Predict(_ context.Context, batch []score.Features) ([]float32, error) {
	z := m.pool.Get().(*featurizer)
	defer m.pool.Put(z)
	out := make([]float32, len(batch))
	for i, f := range batch {
		out[i] = m.score(z, f)
	}
	return out, nil
}

// Close does nothing: the model is memory only.
func (m *Model) Close() error { return nil }
