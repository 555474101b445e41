package score

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
)

// The "fake" driver opens the fakeModel registered under the location's name (fake://NAME),
// so each test has its own model and counts. Prism runs workers in this process, so pipelines
// see the same models.
func init() {
	Register("fake", func(_ context.Context, location string) (Model, error) {
		fakesMu.Lock()
		defer fakesMu.Unlock()
		m, ok := fakes[location]
		if !ok {
			return nil, fmt.Errorf("no fake model %q", location)
		}
		m.opens++
		if m.openErr != nil {
			return nil, m.openErr
		}
		return m, nil
	})
}

var (
	fakesMu sync.Mutex
	fakes   = map[string]*fakeModel{}
)

// fakeModel scores a post by its text: "spam" anywhere in it gives 0.9, else 0.1; "nan" gives
// NaN. It records the size of each batch.
type fakeModel struct {
	openErr    error
	predictErr error
	short      bool // return one score too few

	mu      sync.Mutex
	opens   int
	batches []int
}

// newFake registers a fake model under a new name made from name and returns its URL. Names
// are never reused: Load caches models by URL for the life of the process.
func newFake(name string, m *fakeModel) string {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	name = fmt.Sprintf("%s-%d", name, len(fakes))
	fakes[name] = m
	return "fake://" + name
}

func (m *fakeModel) Predict(ctx context.Context, batch []Features) ([]float32, error) {
	m.mu.Lock()
	m.batches = append(m.batches, len(batch))
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.predictErr != nil {
		return nil, m.predictErr
	}
	out := make([]float32, len(batch))
	for i, f := range batch {
		switch {
		case strings.Contains(f.Text, "nan"):
			out[i] = float32(math.NaN())
		case strings.Contains(f.Text, "spam"):
			out[i] = 0.9
		default:
			out[i] = 0.1
		}
	}
	if m.short {
		out = out[1:]
	}
	return out, nil
}

func (m *fakeModel) Close() error { return nil }

func (m *fakeModel) batchSizes() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.batches...)
}

func (m *fakeModel) openCount() int {
	fakesMu.Lock()
	defer fakesMu.Unlock()
	return m.opens
}

var errFake = errors.New("fake model failure")
