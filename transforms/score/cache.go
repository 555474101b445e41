package score

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// loaded is one entry of the process-wide model cache: done closes when the load finished.
type loaded struct {
	done  chan struct{}
	model Model
	took  time.Duration
	err   error
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*loaded{}
)

// Load returns the model at modelURL, opening it only once per process: every DoFn instance
// of a worker (and the launcher, when the runner runs workers in-process as Prism does)
// shares it, and the model stays open for the life of the process.
//
// Concurrent calls for one URL wait for a single load and all get its result, error included.
// A failed load is not remembered: the next call (a retried bundle's Setup) tries again.
func Load(ctx context.Context, modelURL string) (Model, error) {
	m, _, err := load(ctx, modelURL)
	return m, err
}

// load is Load that also returns how long the load took when this call did it (0 when the model
// came from the cache or from another caller's load).
func load(ctx context.Context, modelURL string) (Model, time.Duration, error) {
	cacheMu.Lock()
	e, ok := cache[modelURL]
	if !ok {
		e = &loaded{done: make(chan struct{})}
		cache[modelURL] = e
	}
	cacheMu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.model, 0, e.err
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("load model %s: waiting for another load: %w", modelURL, ctx.Err())
		}
	}
	e.open(ctx, modelURL)
	return e.model, e.took, e.err
}

// open loads the model into e, forgets e if the load failed (or panicked), and wakes the
// waiters.
func (e *loaded) open(ctx context.Context, modelURL string) {
	start := time.Now()
	defer func() {
		e.took = time.Since(start)
		if e.model == nil && e.err == nil {
			e.err = errors.New("load model " + modelURL + ": driver panicked")
		}
		if e.err != nil {
			cacheMu.Lock()
			delete(cache, modelURL)
			cacheMu.Unlock()
		}
		close(e.done)
	}()
	e.model, e.err = Open(ctx, modelURL)
	if e.model == nil && e.err == nil {
		e.err = fmt.Errorf("open model %s: driver returned no model", modelURL)
	}
}
