package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/beamline/beamline/transforms/score/logreg"
)

// defaultThreshold is the threshold the model is evaluated at.
const defaultThreshold = 0.5

// build trains on the posts in data and returns the model file's bytes and its held-out
// quality.
func build(data string, holdout float64, p params) ([]byte, quality, error) {
	f, err := os.Open(data)
	if err != nil {
		return nil, quality{}, fmt.Errorf("read labelled posts: %w", err)
	}
	defer f.Close()
	all, err := readExamples(f)
	if err != nil {
		return nil, quality{}, fmt.Errorf("read labelled posts %s: %w", data, err)
	}
	trainSet, testSet := split(all, holdout)
	file := train(trainSet, p)
	m, err := logreg.New(file)
	if err != nil {
		return nil, quality{}, err
	}
	q := evaluate(m, testSet, defaultThreshold)
	file.Threshold = defaultThreshold
	file.Training = map[string]any{"params": p, "data": filepath.Base(data), "train_examples": len(trainSet), "heldout": q}
	b, err := encode(file)
	return b, q, err
}

// encode writes the file as indented JSON with one weight per line.
func encode(f logreg.File) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	return buf.Bytes(), nil
}
