package reference

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// Model is the embedded spam and abuse model, read from its file (testdata/model/spam.json)
// and scored from the file format's specification alone (the "Features" section of
// transforms/score/logreg), without sharing the jobs' code.
type Model struct {
	bits    int
	bias    float64
	weights map[uint32]float64
}

// ReadModel reads a model file of format "beamline.logreg/v1" from the local filesystem.
func ReadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reference: read model: %w", err)
	}
	var f struct {
		Format  string             `json:"format"`
		Bits    int                `json:"bits"`
		Bias    float64            `json:"bias"`
		Weights map[string]float64 `json:"weights"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reference: read model %s: %w", path, err)
	}
	if f.Format != "beamline.logreg/v1" || f.Bits < 1 || f.Bits > 32 {
		return nil, fmt.Errorf("reference: read model %s: format %q with %d bits is not supported", path, f.Format, f.Bits)
	}
	m := &Model{bits: f.Bits, bias: f.Bias, weights: make(map[uint32]float64, len(f.Weights))}
	for k, w := range f.Weights {
		bucket, err := strconv.ParseUint(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("reference: read model %s: weight key %q: %w", path, k, err)
		}
		m.weights[uint32(bucket)] = w
	}
	return m, nil
}

// Score returns the model's score of a post.
func (m *Model) Score(text, userAgent, url string) float32 {
	z := m.bias
	for _, name := range featureNames(text, userAgent, url) {
		h := fnv.New32a()
		h.Write([]byte(name))
		z += m.weights[uint32(uint64(h.Sum32())%(1<<uint(m.bits)))]
	}
	return float32(1 / (1 + math.Exp(-z)))
}

// Flagged returns the Config.Flagged of the model at a threshold: score >= threshold.
func (m *Model) Flagged(threshold float64) func(text, userAgent, url string) bool {
	return func(text, userAgent, url string) bool {
		return float64(m.Score(text, userAgent, url)) >= threshold
	}
}

// featureNames lists the features of a post in the specified order: text tokens, text bigrams,
// text symbols, user-agent tokens, URL tokens.
func featureNames(text, userAgent, url string) []string {
	var names []string
	words := tokens(text)
	for _, w := range words {
		names = append(names, "t:"+w)
	}
	for i := 0; i+1 < len(words); i++ {
		names = append(names, "b:"+words[i]+" "+words[i+1])
	}
	for _, r := range strings.ToLower(text) {
		if !isWordRune(r) && !unicode.IsSpace(r) {
			names = append(names, "c:"+string(r))
		}
	}
	for _, w := range tokens(userAgent) {
		names = append(names, "a:"+w)
	}
	for _, w := range tokens(url) {
		names = append(names, "u:"+w)
	}
	return names
}

func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !isWordRune(r) })
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
